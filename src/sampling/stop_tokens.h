// The one rule for the token ids that end a response, used by `popo train` (rollouts and the
// held-out evaluation), `popo eval` and `popo generate` alike:
//   config.json's eos_token_id (an int or a list)
//   + generation_config.json's eos_token_id, when the folder has one (what HF generate stops on)
//   + <|im_end|> and <|endoftext|>, when the tokenizer has them (the Qwen chat end-of-turn and
//     end-of-text tokens: Qwen2.5-Math's evaluation stops on both, whatever the base model's
//     config says).
// Order: as listed, without duplicates. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace popo {

class Tokenizer;
struct ModelConfig;

// Returns the stop ids of the model in folder model_dir ("" = no folder: config and tokenizer
// only). Throws popo::Error naming generation_config.json when it is not valid JSON or its
// eos_token_id is not an integer or a list of integers, and when the result is empty (the
// rollouts could not stop before their token budget).
std::vector<int64_t> resolve_stop_tokens(const std::string& model_dir, const ModelConfig& config,
                                         const Tokenizer& tokenizer);

}  // namespace popo
