// Per-rollout coefficients. Rewards are reshaped to (num_groups, G) and reduced per row.
#include "rl/advantages.h"

#include <torch/torch.h>

#include <cmath>

#include "core/config.h"
#include "core/error.h"

namespace popo {
namespace {

// Returns rewards as (num_groups, G) float32 after checking the shapes.
torch::Tensor grouped(const torch::Tensor& rewards, int64_t group_size, const char* who) {
  TORCH_CHECK(rewards.dim() == 1, who, ": rewards must be (N), got ", rewards.sizes());
  TORCH_CHECK(group_size >= 1 && rewards.size(0) % group_size == 0, who, ": N = ",
              rewards.size(0), " is not a multiple of the group size ", group_size);
  return rewards.detach().to(torch::kFloat).reshape({-1, group_size});  // (num_groups, G)
}

torch::Tensor positive_mask(const torch::Tensor& rewards) {
  return (rewards.detach() > 0).to(torch::kFloat);  // (N) 1 = positive
}

}  // namespace

torch::Tensor grpo_advantages(const torch::Tensor& rewards, int64_t group_size, double eps,
                              bool scale_by_std) {
  torch::Tensor r = grouped(rewards, group_size, "grpo_advantages");  // (g, G)
  torch::Tensor centred = r - r.mean(/*dim=*/1, /*keepdim=*/true);    // (g, G) r - mean_g
  if (!scale_by_std) return centred.reshape({-1});                    // (N) Dr. GRPO
  // Unbiased std (divisor G - 1) as TRL's rewards.view(-1, G).std(dim=1); a single-rollout group
  // has no spread, taken as 0 rather than NaN.
  torch::Tensor std = group_size > 1 ? r.std(/*dim=*/1, /*unbiased=*/true, /*keepdim=*/true)
                                     : torch::zeros_like(r.narrow(/*dim=*/1, /*start=*/0, /*length=*/1));  // (g, 1)
  return (centred / (std + eps)).reshape({-1});                       // (N)
}

torch::Tensor rloo_advantages(const torch::Tensor& rewards, int64_t group_size) {
  TORCH_CHECK(group_size >= 2, "rloo_advantages: needs G >= 2, got ", group_size);
  torch::Tensor r = grouped(rewards, group_size, "rloo_advantages");  // (g, G)
  torch::Tensor others = (r.sum(/*dim=*/1, /*keepdim=*/true) - r) / double(group_size - 1);
  return (r - others).reshape({-1});  // (N) r_i - mean_{j != i} r_j
}

torch::Tensor psr_coefficients(const torch::Tensor& rewards) {
  return positive_mask(rewards);  // (N) +1 on positives
}

torch::Tensor nsr_coefficients(const torch::Tensor& rewards) {
  return positive_mask(rewards) - 1.0;  // (N) -1 on negatives, 0 on positives
}

torch::Tensor w_reinforce_coefficients(const torch::Tensor& rewards, double lambda) {
  torch::Tensor pos = positive_mask(rewards);  // (N)
  return pos * lambda - (1.0 - pos);           // (N) lambda or -1
}

torch::Tensor raft_weights(const torch::Tensor& rewards, int64_t group_size) {
  torch::Tensor pos = positive_mask(grouped(rewards, group_size, "raft_weights"));  // (g, G)
  torch::Tensor count = pos.sum(/*dim=*/1, /*keepdim=*/true).clamp_min(1.0);        // (g, 1)
  return (pos / count).reshape({-1});                                               // (N)
}

torch::Tensor popo_weights(const torch::Tensor& rewards, const torch::Tensor& seq_logp,
                           int64_t group_size, double temperature, bool uniform) {
  if (uniform) return raft_weights(rewards, group_size);
  TORCH_CHECK(temperature > 0, "popo_weights: temperature must be > 0, got ", temperature);
  torch::Tensor pos = positive_mask(grouped(rewards, group_size, "popo_weights")) > 0;  // (g, G)
  TORCH_CHECK(seq_logp.defined() && seq_logp.sizes() == rewards.sizes(),
              "popo_weights: seq_logp must be (N) like rewards ", rewards.sizes(), ", got ",
              seq_logp.defined() ? seq_logp.sizes() : torch::IntArrayRef{});
  // float32, or float64 for float64 log-probs (the reference-fixture test).
  const c10::ScalarType ft = seq_logp.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
  torch::Tensor score = seq_logp.detach().to(ft).reshape({-1, group_size}) /
                        temperature;  // (g, G) l(a) / T_w
  // softmax over S+ only: negatives get -inf logits. A group without positive would be all -inf
  // (NaN softmax), so its scores are replaced by 0 and its weights zeroed afterwards.
  torch::Tensor has_pos = pos.any(/*dim=*/1, /*keepdim=*/true);  // (g, 1)
  torch::Tensor masked = torch::where(pos, score, torch::full_like(score, -INFINITY));
  masked = torch::where(has_pos, masked, torch::zeros_like(score));  // (g, G)
  torch::Tensor w = torch::softmax(masked, /*dim=*/1) * has_pos.to(ft);  // (g, G)
  return w.reshape({-1});                                                           // (N)
}

torch::Tensor sequence_mean_logp(const torch::Tensor& logp, const torch::Tensor& mask) {
  TORCH_CHECK(logp.dim() == 2 && logp.sizes() == mask.sizes(),
              "sequence_mean_logp: logp and mask must both be (N, R), got ", logp.sizes(), " and ",
              mask.sizes());
  const c10::ScalarType ft = logp.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
  torch::Tensor m = mask.detach().to(ft);                                   // (N, R)
  torch::Tensor total = (logp.detach().to(ft) * m).sum(/*dim=*/1);          // (N)
  return total / m.sum(/*dim=*/1).clamp_min(1.0);                            // (N)
}

torch::Tensor rollout_coefficients(const AlgoConfig& cfg, const torch::Tensor& rewards,
                                   int64_t group_size, const torch::Tensor& seq_logp) {
  note_config_read("algo.name");
  switch (cfg.traits().coef) {
    case Coefficient::kGroupAdvantage:
      note_config_read({"grpo.eps", "grpo.scale_rewards"});
      return grpo_advantages(rewards, group_size, cfg.grpo.eps,
                             cfg.grpo.scale_rewards == RewardScale::kGroup);
    case Coefficient::kLeaveOneOut:
      return rloo_advantages(rewards, group_size);
    case Coefficient::kPositiveReinforce:
      return psr_coefficients(rewards);
    case Coefficient::kNegativeReinforce:
      return nsr_coefficients(rewards);
    case Coefficient::kWeightedReinforce:
      note_config_read("algo.w_reinforce_lambda");
      return w_reinforce_coefficients(rewards, cfg.w_reinforce_lambda);
    case Coefficient::kUniformPositives:
      return raft_weights(rewards, group_size);
    case Coefficient::kPopoWeights:
      note_config_read({"popo.weights", "popo.weight_temperature"});
      return popo_weights(rewards, seq_logp, group_size, cfg.popo.weight_temperature,
                          cfg.popo.weights == PopoWeights::kUniform);
  }
  POPO_FAIL("rollout_coefficients: no coefficient for algo.name ", cfg.name_text());
}

GroupStats group_stats(const torch::Tensor& rewards, int64_t group_size) {
  torch::Tensor r = grouped(rewards, group_size, "group_stats");  // (g, G)
  GroupStats s;
  s.num_groups = r.size(0);
  if (r.numel() == 0) return s;
  s.frac_zero_std = constant_reward_groups(rewards, group_size).to(torch::kDouble).mean().item<double>();
  s.frac_no_positive = (~(r > 0).any(/*dim=*/1)).to(torch::kDouble).mean().item<double>();
  s.positive_ratio = (r > 0).to(torch::kDouble).mean().item<double>();
  s.reward_mean = r.to(torch::kDouble).mean().item<double>();
  return s;
}

torch::Tensor constant_reward_groups(const torch::Tensor& rewards, int64_t group_size) {
  torch::Tensor r = grouped(rewards, group_size, "constant_reward_groups");  // (g, G)
  return (r == r.select(/*dim=*/1, /*index=*/0).unsqueeze(1)).all(/*dim=*/1);  // (g) bool
}

}  // namespace popo
