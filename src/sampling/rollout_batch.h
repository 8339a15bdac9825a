// RolloutBatch and SamplingConfig: what the sampler is asked for and what it returns, as plain
// data (torch tensors, no tokenizer). Rollouts of prompt i are rows [i*G, (i+1)*G).
//
// Dims: N = num_prompts * group_size rollouts, P longest prompt, R longest response.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace popo {

enum class FinishReason { kStop, kStopString, kLength };

// Returns "stop", "stop_string" or "length".
const char* finish_reason_name(FinishReason r);

struct SamplingConfig {
  double temperature = 1.0;   // 0 = greedy
  double top_p = 1.0;         // 1 = off
  int64_t top_k = 0;          // 0 = off
  int64_t max_new_tokens = 256;
  int64_t group_size = 1;     // G rollouts per prompt
  uint64_t seed = 0;
  // One seed per rollout row (size N = prompts x G), or empty: one stream (seed) for the batch.
  // With per-row streams a row's draws do not depend on which other rows share the batch, so a
  // data-parallel run that splits the prompts over ranks samples the same rollouts as one process.
  std::vector<uint64_t> row_seeds;
  std::vector<int64_t> eos_token_ids;     // finish with kStop (the EOS token is kept)
  std::vector<std::string> stop_strings;  // finish with kStopString (needs a tokenizer)
  // Drop finished rows from the decode batch (and the KV cache) instead of computing them to the
  // end (see the measurement in generate.cpp). Greedy output is the same either way; sampled
  // output differs, as the random draws are spread over a different number of rows.
  bool compact_finished = true;
  // Draw the tokens on the model's device with a per-request generator of that device (seeded
  // with seed), moving only the N chosen ids to the host each step. Always on for a non-CPU
  // model; on the CPU, true runs the device path there (same draws as the host path).
  bool device_draw = false;
};

struct RolloutBatch {
  int64_t num_prompts = 0, group_size = 1;  // N = num_prompts * group_size
  at::Tensor prompt_ids;     // (N, P) int64, left-padded with pad id 0
  at::Tensor prompt_mask;    // (N, P) int64, 1 = real token
  at::Tensor response_ids;   // (N, R) int64, right-padded with 0
  at::Tensor response_mask;  // (N, R) float32, 1 for generated tokens (the EOS token included)
  at::Tensor logp;           // (N, R) float32 log-prob of each sampled token under softmax(logits / T)
                             // (T = 1 when greedy), 0 at pads
  std::vector<FinishReason> finish;  // per rollout
  std::vector<int64_t> group;        // per rollout: prompt index
  std::vector<std::string> warnings;
  double prefill_seconds = 0.0, decode_seconds = 0.0;  // wall time of the two phases
  int64_t decode_steps = 0;                            // forward passes after the prefill

  int64_t size() const { return num_prompts * group_size; }
  // Returns the generated ids of rollout row (no padding) as int32 for the tokenizer.
  std::vector<int32_t> response_tokens(int64_t row) const;
};

}  // namespace popo
