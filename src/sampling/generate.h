// Batched rollout generation with a KV cache: every prompt is prefilled once, its cache rows are
// repeated for the G continuations, then all rows decode together (temperature / top-k / top-p,
// seeded), stopping on EOS ids, stop strings or the token budget. Mirrors HF generate's sampling
// semantics (do_sample, temperature, top_k, top_p, eos_token_id, stop_strings) for one batch.
//
// Dims: N rollouts, P longest prompt, R longest response, V vocab.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/causal_lm.h"
#include "sampling/rollout_batch.h"

namespace popo {

class Tokenizer;

// Turns response token ids into text, for stop strings.
using DecodeFn = std::function<std::string(const std::vector<int32_t>&)>;

// Returns G = cfg.group_size rollouts per prompt. Prompts are token ids of unequal lengths (none
// empty). Stop strings need tokenizer (may be null otherwise). Throws popo::Error on invalid
// sampling parameters, an empty prompt, or a prompt that fills the model's context; a token
// budget beyond the context is clipped with a note in warnings.
RolloutBatch generate(CausalLM& model, const std::vector<std::vector<int32_t>>& prompts,
                      const SamplingConfig& cfg, const Tokenizer* tokenizer);

// As above with the text decoder given as a function (null when there are no stop strings).
RolloutBatch generate(CausalLM& model, const std::vector<std::vector<int32_t>>& prompts,
                      const SamplingConfig& cfg, const DecodeFn& decode);

// Throws popo::Error naming the field when cfg is invalid (temperature < 0, top_p outside (0, 1],
// top_k < 0, group_size < 1, max_new_tokens < 1).
void validate_sampling_config(const SamplingConfig& cfg);

// Returns the decoded text of each response row of batch (tokens where response_mask is 1,
// special tokens dropped) and, when lengths is given, each row's token count.
std::vector<std::string> decode_responses(const RolloutBatch& batch, const Tokenizer& tok,
                                          std::vector<int64_t>* lengths);

}  // namespace popo
