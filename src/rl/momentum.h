// The siamese network's momentum update (POPO.md, Loss 5): xi <- tau xi + (1 - tau) theta after
// every optimizer step, and the laws that set tau over training: fixed (the reference), cosine
// (BYOL: tau rises from tau0 to 1) and adaptive (tau reacts to the measured KL(pi_theta||pi_xi)).
//
// Adaptive law (ours; PPO's adaptive-KL rule applied to u = 1 - tau): after each measurement
// KL_k of popo/kl_to_siamese,
//     KL_k > 1.5 * target  ->  u <- u / f      (tau rises: the siamese follows more slowly)
//     KL_k < target / 1.5  ->  u <- u * f      (tau falls: the siamese catches up faster)
//     otherwise            ->  u unchanged
// then tau = 1 - u is clamped to [momentum_min, momentum_max]; target = popo.momentum_target_kl,
// f = popo.momentum_adapt_factor, tau starts at popo.momentum. A non-finite KL is ignored.
#pragma once

#include <torch/nn/module.h>

#include <cstdint>
#include <vector>

#include "rl/algo_config.h"

namespace popo {

// Sets every parameter of target to tau * target + (1 - tau) * online, under NoGradGuard.
// Parameters are paired by named_parameters() order; names, count and shapes must match
// (popo::Error naming the first mismatch otherwise). tau in [0, 1]: 0 copies online, 1 is a
// no-op. Dtypes may differ (online values are cast).
void ema_update(torch::nn::Module& target, const torch::nn::Module& online, double tau);
// The same with the online values given as tensors in target.parameters() order (e.g. the fp32
// master weights of a bf16 policy); count and shapes must match.
void ema_update(torch::nn::Module& target, const std::vector<at::Tensor>& online, double tau);
// The same on plain tensors (e.g. the fp32 masters of a bf16 siamese), in place, each in its own
// dtype: xi.mul_(tau).add_(theta, 1 - tau), the reference's two roundings. Count and shapes must
// match.
void ema_update_tensors(const std::vector<at::Tensor>& target, const std::vector<at::Tensor>& online,
                        double tau);

// tau over training for one popo.momentum_law.
class MomentumSchedule {
 public:
  // total_steps: K, the number of optimizer steps of the run (cosine law; >= 1).
  MomentumSchedule(const PopoConfig& cfg, int64_t total_steps);
  // Returns tau to use after optimizer step `step` (0-based): fixed tau0; cosine
  // 1 - (1 - tau0) (cos(pi step / K) + 1) / 2; adaptive the current adapted value.
  double tau(int64_t step) const;
  // Feeds a KL(pi_theta || pi_xi) measurement to the adaptive law (no-op for the others).
  void observe_kl(double kl);
  // Returns / restores the adaptive state (the current tau) for checkpoint and resume.
  double state() const { return tau_; }
  void set_state(double tau) { tau_ = tau; }

 private:
  PopoConfig cfg_;
  int64_t total_steps_;
  double tau_;
};

}  // namespace popo
