// ema_update and MomentumSchedule (laws written out in momentum.h).
#include "rl/momentum.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "core/config.h"
#include "core/error.h"

namespace popo {

void ema_update(torch::nn::Module& target, const torch::nn::Module& online, double tau) {
  POPO_CHECK(std::isfinite(tau) && tau >= 0 && tau <= 1, "ema_update: tau must be in [0, 1], got ",
             tau);
  auto dst = target.named_parameters(/*recurse=*/true);
  auto src = online.named_parameters(/*recurse=*/true);
  POPO_CHECK(dst.size() == src.size(), "ema_update: target has ", dst.size(),
             " parameters, online has ", src.size());
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < dst.size(); ++i) {
    const auto& d = dst[i];
    const auto& s = src[i];
    POPO_CHECK(d.key() == s.key(), "ema_update: parameter ", i, " is '", d.key(),
               "' in the target but '", s.key(), "' in the online network");
    POPO_CHECK(d.value().sizes() == s.value().sizes(), "ema_update: parameter '", d.key(),
               "' has shape ", d.value().sizes(), " in the target, ", s.value().sizes(),
               " in the online network");
    torch::Tensor xi = d.value();
    torch::Tensor theta = s.value().to(xi.options());
    if (tau == 0.0) {
      xi.copy_(theta);  // exact copy, no rounding through tau * xi
    } else if (tau < 1.0) {
      xi.mul_(tau).add_(theta, /*alpha=*/1.0 - tau);  // xi <- tau xi + (1 - tau) theta
    }
  }
}

void ema_update(torch::nn::Module& target, const std::vector<torch::Tensor>& online, double tau) {
  POPO_CHECK(std::isfinite(tau) && tau >= 0 && tau <= 1, "ema_update: tau must be in [0, 1], got ",
             tau);
  auto dst = target.named_parameters(/*recurse=*/true);
  POPO_CHECK(dst.size() == online.size(), "ema_update: target has ", dst.size(),
             " parameters, online has ", online.size());
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < dst.size(); ++i) {
    torch::Tensor xi = dst[i].value();
    POPO_CHECK(xi.sizes() == online[i].sizes(), "ema_update: parameter '", dst[i].key(),
               "' has shape ", xi.sizes(), " in the target, ", online[i].sizes(), " online");
    torch::Tensor theta = online[i].to(xi.options());
    if (tau == 0.0) {
      xi.copy_(theta);
    } else if (tau < 1.0) {
      xi.mul_(tau).add_(theta, /*alpha=*/1.0 - tau);  // xi <- tau xi + (1 - tau) theta
    }
  }
}

void ema_update_tensors(const std::vector<torch::Tensor>& target,
                        const std::vector<torch::Tensor>& online, double tau) {
  POPO_CHECK(std::isfinite(tau) && tau >= 0 && tau <= 1,
             "ema_update_tensors: tau must be in [0, 1], got ", tau);
  POPO_CHECK(target.size() == online.size(), "ema_update_tensors: ", target.size(),
             " target tensors, ", online.size(), " online");
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < target.size(); ++i) {
    torch::Tensor xi = target[i];
    POPO_CHECK(xi.sizes() == online[i].sizes(), "ema_update_tensors: tensor ", i, " has shape ",
               xi.sizes(), " in the target, ", online[i].sizes(), " online");
    torch::Tensor theta = online[i].detach().to(xi.options());
    if (tau == 0.0) {
      xi.copy_(theta);
    } else if (tau < 1.0) {
      xi.mul_(tau).add_(theta, /*alpha=*/1.0 - tau);  // xi <- tau xi + (1 - tau) theta
    }
  }
}

MomentumSchedule::MomentumSchedule(const PopoConfig& cfg, int64_t total_steps)
    : cfg_(cfg), total_steps_(total_steps), tau_(cfg.momentum) {
  POPO_CHECK(total_steps >= 1, "MomentumSchedule: total steps must be >= 1, got ", total_steps);
}

double MomentumSchedule::tau(int64_t step) const {
  note_config_read({"popo.momentum", "popo.momentum_law"});
  if (cfg_.momentum_law == MomentumLaw::kCosine) {
    double k = std::clamp<double>(double(step), 0.0, double(total_steps_));
    return 1.0 - (1.0 - cfg_.momentum) * (std::cos(M_PI * k / double(total_steps_)) + 1.0) / 2.0;
  }
  if (cfg_.momentum_law == MomentumLaw::kAdaptive) return tau_;
  return cfg_.momentum;
}

void MomentumSchedule::observe_kl(double kl) {
  if (cfg_.momentum_law != MomentumLaw::kAdaptive || !std::isfinite(kl)) return;
  note_config_read({"popo.momentum_target_kl", "popo.momentum_adapt_factor", "popo.momentum_min",
                    "popo.momentum_max"});
  double u = 1.0 - tau_;
  if (kl > 1.5 * cfg_.momentum_target_kl) {
    u /= cfg_.momentum_adapt_factor;
  } else if (kl < cfg_.momentum_target_kl / 1.5) {
    u *= cfg_.momentum_adapt_factor;
  }
  tau_ = std::clamp(1.0 - u, cfg_.momentum_min, cfg_.momentum_max);
}

}  // namespace popo
