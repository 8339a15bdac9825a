// DAPO's rollout-level tools (Yu et al. 2025, as verl and TRL have them): the overlong reward
// shaping, the dynamic-sampling group filter, and the batch surgery that keeps, drops and joins
// groups of a RolloutBatch.
//   overlong shaping: for a response of L tokens, budget Lmax = sampling.max_new_tokens and buffer
//     B = grpo.overlong_buffer, the reward gets 0 if L <= Lmax - B, else
//     ((Lmax - B) - L) / B * grpo.overlong_penalty (down to -penalty at L = Lmax; verl's
//     DAPORewardManager). B = 0 disables it.
//   dynamic sampling: a group whose G verdicts are all equal (all correct or all wrong) has zero
//     advantage under GRPO and is dropped; the trainer samples more prompts to refill the step.
// Legend: N rollouts, G rollouts per prompt (rows [g*G, (g+1)*G) are group g), P prompt width,
// R response width.
#pragma once

#include <cstdint>
#include <vector>

#include "sampling/rollout_batch.h"

namespace popo {

// Returns the overlong penalty (<= 0) of a response of `length` tokens (see above). Checks
// 0 <= buffer <= max_new_tokens.
double overlong_penalty(int64_t length, int64_t max_new_tokens, int64_t buffer, double factor);

// Returns the indices of the groups whose verdicts are not all equal, in order. correct: (N)
// verifier verdicts (> 0 = correct); N must be a multiple of group_size.
std::vector<int64_t> mixed_groups(const std::vector<float>& correct, int64_t group_size);

// Returns the rollouts of the given groups of b, in the given order (prompt width kept; finish,
// group and logp carried along).
RolloutBatch select_groups(const RolloutBatch& b, const std::vector<int64_t>& groups);

// Returns the batches stacked row-wise: prompts left-padded and responses right-padded to the
// widest part (pad id 0, mask 0). Every part must have the same group size; empty parts are
// skipped. An all-empty list gives a batch of 0 rollouts with widths 1.
RolloutBatch concat_rollouts(const std::vector<RolloutBatch>& parts);

// Zeroes the response mask of every rollout that stopped at the token budget (FinishReason::
// kLength): DAPO's overlong filter, as TRL's mask_truncated_completions. The rows stay in the
// batch (and in the seq-mean count); they contribute no token to the loss. Returns the count.
int64_t mask_truncated(RolloutBatch* b);

}  // namespace popo
