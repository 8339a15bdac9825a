// Validation of AlgoConfig / PopoConfig / GrpoConfig: one check per key, each naming the key,
// the expected values and the value got.
#include "rl/algo_config.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.h"

namespace popo {
namespace {

std::string join(const std::vector<std::string>& names) {
  std::ostringstream os;
  for (size_t i = 0; i < names.size(); ++i) os << (i ? " | " : "") << names[i];
  return os.str();
}

void check_one_of(const std::string& key, const std::string& value,
                  const std::vector<std::string>& allowed) {
  POPO_CHECK(std::find(allowed.begin(), allowed.end(), value) != allowed.end(), "config: ", key,
             " must be one of ", join(allowed), ", got '", value, "'");
}

void check_range(const std::string& key, double value, double lo, double hi,
                 const char* expected) {
  POPO_CHECK(std::isfinite(value) && value >= lo && value <= hi, "config: ", key, " must be ",
             expected, ", got ", value);
}

}  // namespace

const std::vector<std::string>& known_algorithms() {
  static const std::vector<std::string> names = {"popo", "grpo", "psr", "nsr",
                                                 "w_reinforce", "raft", "rloo"};
  return names;
}

bool uses_popo_path(const std::string& algo_name) {
  return algo_name == "popo" || algo_name == "raft";
}

bool needs_siamese(const AlgoConfig& cfg) {
  if (cfg.name != "popo") return false;
  return cfg.popo.sim_coef > 0 || cfg.popo.kl_every > 0 || cfg.popo.momentum_law == "adaptive";
}

bool needs_reference(const AlgoConfig& cfg) {
  return !uses_popo_path(cfg.name) && cfg.grpo.kl_coef > 0;
}

void validate(const AlgoConfig& cfg, int64_t group_size) {
  check_one_of("algo.name", cfg.name, known_algorithms());
  POPO_CHECK(group_size >= 1, "config: group size (rollouts per prompt) must be >= 1, got ",
             group_size);
  if (cfg.name == "grpo" || cfg.name == "rloo") {
    POPO_CHECK(group_size >= 2, "config: algo.name=", cfg.name,
               " needs a group size (rollouts per prompt) >= 2 to compare rollouts of a prompt, got ",
               group_size);
  }
  check_range("algo.w_reinforce_lambda", cfg.w_reinforce_lambda, 0.0, 1e9, "finite and >= 0");

  const PopoConfig& p = cfg.popo;
  check_one_of("popo.weights", p.weights, {"softmax", "uniform"});
  POPO_CHECK(std::isfinite(p.weight_temperature) && p.weight_temperature > 0,
             "config: popo.weight_temperature must be finite and > 0, got ", p.weight_temperature);
  check_range("popo.sim_coef", p.sim_coef, 0.0, 1e9, "finite and >= 0");
  check_range("popo.noise_std", p.noise_std, 0.0, 1e9, "finite and >= 0");
  POPO_CHECK(p.predictor_hidden >= 1, "config: popo.predictor_hidden must be >= 1, got ",
             p.predictor_hidden);
  POPO_CHECK(p.predictor_layers >= 0, "config: popo.predictor_layers must be >= 0 (0 = identity), got ",
             p.predictor_layers);
  check_range("popo.entropy_coef", p.entropy_coef, 0.0, 1e9, "finite and >= 0");
  check_one_of("popo.entropy_on", p.entropy_on, {"all", "positives"});
  check_range("popo.momentum", p.momentum, 0.0, 1.0, "in [0, 1]");
  check_one_of("popo.momentum_law", p.momentum_law, {"fixed", "cosine", "adaptive"});
  POPO_CHECK(std::isfinite(p.momentum_target_kl) && p.momentum_target_kl > 0,
             "config: popo.momentum_target_kl must be finite and > 0, got ", p.momentum_target_kl);
  check_range("popo.momentum_adapt_factor", p.momentum_adapt_factor, 1.0, 1e9, "finite and >= 1");
  check_range("popo.momentum_min", p.momentum_min, 0.0, 1.0, "in [0, 1]");
  check_range("popo.momentum_max", p.momentum_max, p.momentum_min, 1.0,
              "in [popo.momentum_min, 1]");
  POPO_CHECK(p.kl_every >= 0, "config: popo.kl_every must be >= 0 (0 = never), got ", p.kl_every);

  const GrpoConfig& g = cfg.grpo;
  check_range("grpo.eps", g.eps, 0.0, 1e9, "finite and >= 0");
  check_one_of("grpo.scale_rewards", g.scale_rewards, {"group", "none"});
  check_range("grpo.clip_low", g.clip_low, 0.0, 1.0, "in [0, 1]");
  check_range("grpo.clip_high", g.clip_high, 0.0, 1e9, "finite and >= 0");
  check_range("grpo.kl_coef", g.kl_coef, 0.0, 1e9, "finite and >= 0");
  check_one_of("grpo.loss_agg", g.loss_agg,
               {"seq-mean-token-mean", "token-mean", "seq-mean-token-sum-norm"});
  POPO_CHECK(g.loss_agg_max_len >= 0,
             "config: grpo.loss_agg_max_len must be >= 0 (0 = sampling.max_new_tokens), got ",
             g.loss_agg_max_len);
  check_one_of("grpo.old_logp", g.old_logp, {"detached", "behaviour"});
  POPO_CHECK(g.dynamic_sampling_max_rounds >= 1,
             "config: grpo.dynamic_sampling_max_rounds must be >= 1, got ",
             g.dynamic_sampling_max_rounds);
  POPO_CHECK(g.overlong_buffer >= 0, "config: grpo.overlong_buffer must be >= 0 (0 = off), got ",
             g.overlong_buffer);
  check_range("grpo.overlong_penalty", g.overlong_penalty, 0.0, 1e9, "finite and >= 0");
  if (g.overlong_filter) {
    POPO_CHECK(!uses_popo_path(cfg.name), "config: grpo.overlong_filter acts on the "
               "policy-gradient path (grpo, rloo, psr, nsr, w_reinforce), not algo.name=", cfg.name);
  }
  if (g.dynamic_sampling) {
    POPO_CHECK(group_size >= 2, "config: grpo.dynamic_sampling needs a group size >= 2, got ",
               group_size);
  }
}

}  // namespace popo
