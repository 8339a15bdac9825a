// Per-rollout coefficients from verifier rewards: GRPO advantages (unbiased group std, as TRL),
// RLOO, PSR / NSR / W-REINFORCE (Zhu et al. 2025), RAFT and POPO importance weights over the
// positive set (POPO.md, Loss 1), plus group statistics and the dynamic-sampling group filter.
// Pure functions on small CPU-or-device tensors; no gradient flows through any of them.
// Legend: N rollouts = num_prompts * G; rollouts of prompt i are rows [i*G, (i+1)*G).
// A rollout is positive when its reward is > 0.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "rl/algo_config.h"

namespace popo {

// Returns GRPO advantages (N) float32: (r - mean_g) / (std_g + eps) with the unbiased std
// (divisor G - 1, as TRL); scale_by_std false gives r - mean_g (Dr. GRPO). A group of one
// rollout has std taken as 0 (advantage 0). rewards: (N) float.
at::Tensor grpo_advantages(const at::Tensor& rewards, int64_t group_size, double eps,
                           bool scale_by_std);
// Returns RLOO advantages (N) float32: r_i - mean of the other G - 1 rewards of its group.
// Checks G >= 2.
at::Tensor rloo_advantages(const at::Tensor& rewards, int64_t group_size);
// Returns PSR coefficients (N) float32: +1 on positives, 0 on negatives.
at::Tensor psr_coefficients(const at::Tensor& rewards);
// Returns NSR coefficients (N) float32: -1 on negatives, 0 on positives.
at::Tensor nsr_coefficients(const at::Tensor& rewards);
// Returns W-REINFORCE coefficients (N) float32: lambda on positives, -1 on negatives.
at::Tensor w_reinforce_coefficients(const at::Tensor& rewards, double lambda);
// Returns RAFT weights (N) float32: 1/|S+| on the positives of each group, 0 elsewhere.
at::Tensor raft_weights(const at::Tensor& rewards, int64_t group_size);
// Returns POPO weights (N) float32: per group, softmax over the positives of
// seq_logp / temperature (zero on negatives, zero for a group without positive); uniform true
// gives 1/|S+| instead. seq_logp: (N) length-normalised sequence log-probs l(a), no gradient.
at::Tensor popo_weights(const at::Tensor& rewards, const at::Tensor& seq_logp,
                        int64_t group_size, double temperature, bool uniform);
// (popo_weights and sequence_mean_logp keep float64 inputs in float64.)
// Returns l(a) (N) float32 = mean over the response tokens of logp (0 for an empty response),
// detached. logp: (N, R) float; mask: (N, R) float 1 = response token.
at::Tensor sequence_mean_logp(const at::Tensor& logp, const at::Tensor& mask);

// Returns the per-rollout coefficient (N) float32 the loss of cfg.name consumes
// (traits(cfg.name).coef): the advantage (grpo, rloo, psr, nsr, w_reinforce) or the positive-set
// weight (popo, raft). seq_logp (N) is read by popo with weights=softmax only (may be undefined
// otherwise).
at::Tensor rollout_coefficients(const AlgoConfig& cfg, const at::Tensor& rewards,
                                int64_t group_size, const at::Tensor& seq_logp);

struct GroupStats {
  int64_t num_groups = 0;
  double frac_zero_std = 0;       // share of groups whose rewards are all equal
  double frac_no_positive = 0;    // share of groups without a positive rollout
  double positive_ratio = 0;      // share of rollouts with reward > 0 (popo/positive_ratio)
  double reward_mean = 0;         // mean reward over the batch
};
// Returns the group statistics of rewards (N) with groups of group_size.
GroupStats group_stats(const at::Tensor& rewards, int64_t group_size);
// Returns (num_groups) bool: true where all G rewards of the group are equal (zero std); the
// groups DAPO's dynamic sampling drops.
at::Tensor constant_reward_groups(const at::Tensor& rewards, int64_t group_size);

}  // namespace popo
