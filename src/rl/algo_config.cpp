// Validation of AlgoConfig / PopoConfig / GrpoConfig: one check per key, each naming the key,
// the expected values and the value got.
#include "rl/algo_config.h"

#include <cmath>
#include <iterator>

#include "core/error.h"

namespace popo {
namespace {

void check_range(const std::string& key, double value, double lo, double hi,
                 const char* expected) {
  POPO_CHECK(std::isfinite(value) && value >= lo && value <= hi, "config: ", key, " must be ",
             expected, ", got ", value);
}

}  // namespace

const std::vector<const char*>& enum_names(Algorithm) {
  static const std::vector<const char*> n = {"popo", "grpo", "psr", "nsr", "w_reinforce", "raft", "rloo"};
  return n;
}
const std::vector<const char*>& enum_names(PopoWeights) {
  static const std::vector<const char*> n = {"softmax", "uniform"};
  return n;
}
const std::vector<const char*>& enum_names(EntropyScope) {
  static const std::vector<const char*> n = {"all", "positives"};
  return n;
}
const std::vector<const char*>& enum_names(MomentumLaw) {
  static const std::vector<const char*> n = {"fixed", "cosine", "adaptive"};
  return n;
}
const std::vector<const char*>& enum_names(RewardScale) {
  static const std::vector<const char*> n = {"group", "none"};
  return n;
}
const std::vector<const char*>& enum_names(LossAgg) {
  static const std::vector<const char*> n = {"seq-mean-token-mean", "token-mean", "seq-mean-token-sum-norm"};
  return n;
}
const std::vector<const char*>& enum_names(OldLogp) {
  static const std::vector<const char*> n = {"detached", "behaviour"};
  return n;
}

const AlgorithmTraits& traits(Algorithm a) {
  using L = LossPath;
  using C = Coefficient;
  // One row per Algorithm, in enum order.
  static const AlgorithmTraits table[] = {
      // id                     name           loss                 coefficient              G>=2   popo terms
      {Algorithm::kPopo,        "popo",        L::kPositiveNll,     C::kPopoWeights,         false, true},
      {Algorithm::kGrpo,        "grpo",        L::kPolicyGradient,  C::kGroupAdvantage,      true,  false},
      {Algorithm::kPsr,         "psr",         L::kPolicyGradient,  C::kPositiveReinforce,   false, false},
      {Algorithm::kNsr,         "nsr",         L::kPolicyGradient,  C::kNegativeReinforce,   false, false},
      {Algorithm::kWReinforce,  "w_reinforce", L::kPolicyGradient,  C::kWeightedReinforce,   false, false},
      {Algorithm::kRaft,        "raft",        L::kPositiveNll,     C::kUniformPositives,    false, false},
      {Algorithm::kRloo,        "rloo",        L::kPolicyGradient,  C::kLeaveOneOut,         true,  false},
  };
  const int i = static_cast<int>(a);
  POPO_CHECK(i >= 0 && i < static_cast<int>(std::size(table)), "traits: Algorithm value ", i,
             " out of range");
  return table[i];
}

void validate(const AlgoConfig& cfg, int64_t group_size) {
  POPO_CHECK(group_size >= 1, "config: group size (rollouts per prompt) must be >= 1, got ",
             group_size);
  if (cfg.traits().compares_group) {
    POPO_CHECK(group_size >= 2, "config: algo.name=", cfg.name_text(),
               " needs a group size (rollouts per prompt) >= 2 to compare rollouts of a prompt, got ",
               group_size);
  }
  check_range("algo.w_reinforce_lambda", cfg.w_reinforce_lambda, 0.0, 1e9, "finite and >= 0");

  const PopoConfig& p = cfg.popo;
  POPO_CHECK(std::isfinite(p.weight_temperature) && p.weight_temperature > 0,
             "config: popo.weight_temperature must be finite and > 0, got ", p.weight_temperature);
  check_range("popo.sim_coef", p.sim_coef, 0.0, 1e9, "finite and >= 0");
  check_range("popo.noise_std", p.noise_std, 0.0, 1e9, "finite and >= 0");
  POPO_CHECK(p.predictor_hidden >= 1, "config: popo.predictor_hidden must be >= 1, got ",
             p.predictor_hidden);
  POPO_CHECK(p.predictor_layers >= 0, "config: popo.predictor_layers must be >= 0 (0 = identity), got ",
             p.predictor_layers);
  check_range("popo.entropy_coef", p.entropy_coef, 0.0, 1e9, "finite and >= 0");
  check_range("popo.momentum", p.momentum, 0.0, 1.0, "in [0, 1]");
  POPO_CHECK(std::isfinite(p.momentum_target_kl) && p.momentum_target_kl > 0,
             "config: popo.momentum_target_kl must be finite and > 0, got ", p.momentum_target_kl);
  check_range("popo.momentum_adapt_factor", p.momentum_adapt_factor, 1.0, 1e9, "finite and >= 1");
  check_range("popo.momentum_min", p.momentum_min, 0.0, 1.0, "in [0, 1]");
  check_range("popo.momentum_max", p.momentum_max, p.momentum_min, 1.0,
              "in [popo.momentum_min, 1]");
  POPO_CHECK(p.kl_every >= 0, "config: popo.kl_every must be >= 0 (0 = never), got ", p.kl_every);
  POPO_CHECK(p.neg_logp_rollouts >= 0, "config: popo.neg_logp_rollouts must be >= 0 (0 = off), got ",
             p.neg_logp_rollouts);

  const GrpoConfig& g = cfg.grpo;
  check_range("grpo.eps", g.eps, 0.0, 1e9, "finite and >= 0");
  check_range("grpo.clip_low", g.clip_low, 0.0, 1.0, "in [0, 1]");
  check_range("grpo.clip_high", g.clip_high, 0.0, 1e9, "finite and >= 0");
  check_range("grpo.kl_coef", g.kl_coef, 0.0, 1e9, "finite and >= 0");
  POPO_CHECK(g.loss_agg_max_len >= 0,
             "config: grpo.loss_agg_max_len must be >= 0 (0 = sampling.max_new_tokens), got ",
             g.loss_agg_max_len);
  POPO_CHECK(g.dynamic_sampling_max_rounds >= 1,
             "config: grpo.dynamic_sampling_max_rounds must be >= 1, got ",
             g.dynamic_sampling_max_rounds);
  POPO_CHECK(g.overlong_buffer >= 0, "config: grpo.overlong_buffer must be >= 0 (0 = off), got ",
             g.overlong_buffer);
  check_range("grpo.overlong_penalty", g.overlong_penalty, 0.0, 1e9, "finite and >= 0");
  if (g.overlong_filter) {
    POPO_CHECK(!cfg.positive_path(), "config: grpo.overlong_filter acts on the "
               "policy-gradient path (grpo, rloo, psr, nsr, w_reinforce), not algo.name=",
               cfg.name_text());
  }
  if (g.dynamic_sampling) {
    POPO_CHECK(group_size >= 2, "config: grpo.dynamic_sampling needs a group size >= 2, got ",
               group_size);
  }
}

}  // namespace popo
