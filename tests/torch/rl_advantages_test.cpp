// Hand-computed checks of the per-rollout coefficients (rl/advantages.h) and of the algorithm
// config validation (rl/algo_config.h). Std is the unbiased one (divisor G - 1), as TRL.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "rl/advantages.h"
#include "rl/algo_config.h"
#include "core/config.h"
#include "train/train_config.h"

namespace popo {
namespace {

torch::Tensor vec(const std::vector<float>& v) { return torch::tensor(v, torch::kFloat); }

void expect_values(const torch::Tensor& got, const std::vector<double>& want, double tol = 1e-6) {
  ASSERT_EQ(got.numel(), int64_t(want.size()));
  torch::Tensor g = got.to(torch::kDouble).contiguous();
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(g[i].item<double>(), want[i], tol) << "index " << i;
}

TEST(GrpoAdvantages, UnbiasedStdGivesPlusMinusPoint866) {
  // mean 0.5, unbiased std sqrt(1/3) = 0.57735: 0.5 / 0.57735 = 0.866025.
  const double a = std::sqrt(3.0) / 2.0;
  expect_values(grpo_advantages(vec({1, 0, 0, 1}), 4, /*eps=*/0.0, /*scale_by_std=*/true),
                {a, -a, -a, a});
  // TRL's eps = 1e-4 lowers it to 0.5 / (0.57735 + 1e-4) = 0.865875.
  const double b = 0.5 / (std::sqrt(1.0 / 3.0) + 1e-4);
  expect_values(grpo_advantages(vec({1, 0, 0, 1}), 4, /*eps=*/1e-4, /*scale_by_std=*/true),
                {b, -b, -b, b});
}

TEST(GrpoAdvantages, ZeroStdAndSingleSampleGroupsGiveZero) {
  // group 1 all correct, group 2 all wrong: zero std, advantage 0 (not NaN).
  expect_values(grpo_advantages(vec({1, 1, 0, 0}), 2, /*eps=*/1e-6, true), {0, 0, 0, 0});
  // G = 1: no group to compare with; advantage 0.
  expect_values(grpo_advantages(vec({1, 0, 1}), 1, /*eps=*/1e-6, true), {0, 0, 0});
}

TEST(GrpoAdvantages, ScaleRewardsNoneIsCentredOnly) {
  expect_values(grpo_advantages(vec({1, 0, 0, 0, 1, 1}), 3, 1e-6, /*scale_by_std=*/false),
                {2.0 / 3, -1.0 / 3, -1.0 / 3, -2.0 / 3, 1.0 / 3, 1.0 / 3});
}

TEST(RlooAdvantages, LeaveOneOutMean) {
  // r_i - mean of the other three: 1 - 1/3, 0 - 2/3.
  expect_values(rloo_advantages(vec({1, 0, 0, 1}), 4), {2.0 / 3, -2.0 / 3, -2.0 / 3, 2.0 / 3});
  expect_values(rloo_advantages(vec({0.5, 0}), 2), {0.5, -0.5});
}

TEST(ZhuCoefficients, PsrNsrWReinforce) {
  torch::Tensor r = vec({1, 0, 0, 1, 0});
  expect_values(psr_coefficients(r), {1, 0, 0, 1, 0});
  expect_values(nsr_coefficients(r), {0, -1, -1, 0, -1});
  expect_values(w_reinforce_coefficients(r, /*lambda=*/0.1), {0.1, -1, -1, 0.1, -1});
}

TEST(RaftWeights, UniformOverPositivesPerGroup) {
  // groups: 3 positives of 4, none, all.
  expect_values(raft_weights(vec({1, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1}), 4),
                {1.0 / 3, 0, 1.0 / 3, 1.0 / 3, 0, 0, 0, 0, 0.25, 0.25, 0.25, 0.25});
}

TEST(PopoWeights, SoftmaxOverPositiveSetOnly) {
  // group 1: positives 0 and 2 with l = -1 and -2: w0 = e^-1 / (e^-1 + e^-2) = 1 / (1 + e^-1).
  // group 2: no positive -> all zero. group 3: all positive, l = -2, -2 + ln 3 -> 1/4, 3/4.
  torch::Tensor r = vec({1, 0, 1, 0, 0, 0, 1, 1});
  torch::Tensor l = vec({-1, -0.1f, -2, -0.5f, -0.3f, -0.2f, -2, float(-2 + std::log(3.0))});
  const double w0 = 1.0 / (1.0 + std::exp(-1.0));
  expect_values(popo_weights(r, l, 2 * 2, /*temperature=*/1.0, /*uniform=*/false).narrow(0, 0, 4),
                {w0, 0, 1 - w0, 0});
  torch::Tensor w = popo_weights(r.narrow(0, 4, 4), l.narrow(0, 4, 4), 2, 1.0, false);
  expect_values(w, {0, 0, 0.25, 0.75});
  // T_w = 2 halves the log-prob gap: 1 / (1 + e^-0.5).
  const double w2 = 1.0 / (1.0 + std::exp(-0.5));
  expect_values(popo_weights(r.narrow(0, 0, 4), l.narrow(0, 0, 4), 4, 2.0, false),
                {w2, 0, 1 - w2, 0});
  // uniform ablation ignores the log-probs.
  expect_values(popo_weights(r.narrow(0, 0, 4), l.narrow(0, 0, 4), 4, 1.0, /*uniform=*/true),
                {0.5, 0, 0.5, 0});
}

TEST(PopoWeights, SequenceMeanLogpIgnoresPadding) {
  torch::Tensor logp = torch::tensor({{-1.0f, -3.0f, -100.0f}, {-2.0f, -7.0f, -9.0f}});
  torch::Tensor mask = torch::tensor({{1.0f, 1.0f, 0.0f}, {0.0f, 0.0f, 0.0f}});
  expect_values(sequence_mean_logp(logp, mask), {-2.0, 0.0});
}

TEST(GroupStats, ZeroStdNoPositiveAndPositiveRatio) {
  torch::Tensor r = vec({1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1});
  GroupStats s = group_stats(r, 4);
  EXPECT_EQ(s.num_groups, 3);
  EXPECT_NEAR(s.frac_zero_std, 2.0 / 3, 1e-9);
  EXPECT_NEAR(s.frac_no_positive, 1.0 / 3, 1e-9);
  EXPECT_NEAR(s.positive_ratio, 0.5, 1e-9);
  EXPECT_NEAR(s.reward_mean, 0.5, 1e-9);
  torch::Tensor c = constant_reward_groups(r, 4);
  EXPECT_FALSE(c[0].item<bool>());
  EXPECT_TRUE(c[1].item<bool>());
  EXPECT_TRUE(c[2].item<bool>());
}

TEST(RolloutCoefficients, DispatchesOnAlgorithmName) {
  AlgoConfig cfg;
  torch::Tensor r = vec({1, 0, 0, 1});
  torch::Tensor l = vec({-1, -1, -1, -1});
  cfg.name = Algorithm::kGrpo;
  cfg.grpo.eps = 0;
  expect_values(rollout_coefficients(cfg, r, 4, {}), {0.866025, -0.866025, -0.866025, 0.866025});
  cfg.name = Algorithm::kPopo;
  expect_values(rollout_coefficients(cfg, r, 4, l), {0.5, 0, 0, 0.5});
  cfg.name = Algorithm::kNsr;
  expect_values(rollout_coefficients(cfg, r, 4, {}), {0, -1, -1, 0});
}

TEST(AlgoConfigValidate, RejectsBadValuesNamingTheKey) {
  struct Case {
    const char* key;
    void (*edit)(AlgoConfig&);
    int64_t group_size;
    const char* needle;
  };
  const std::vector<Case> cases = {
      {"grpo G=1", [](AlgoConfig& c) { c.name = Algorithm::kGrpo; }, 1, ">= 2"},
      {"rloo G=1", [](AlgoConfig& c) { c.name = Algorithm::kRloo; }, 1, "algo.name=rloo"},
      {"momentum", [](AlgoConfig& c) { c.popo.momentum = 1.5; }, 4, "popo.momentum"},
      {"T_w", [](AlgoConfig& c) { c.popo.weight_temperature = 0; }, 4, "popo.weight_temperature"},
      {"layers", [](AlgoConfig& c) { c.popo.predictor_layers = -1; }, 4, "popo.predictor_layers"},
  };
  for (const Case& c : cases) {
    AlgoConfig cfg;
    c.edit(cfg);
    try {
      validate(cfg, c.group_size);
      ADD_FAILURE() << c.key << ": no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.needle), std::string::npos)
          << c.key << ": " << e.what();
    }
  }
  AlgoConfig ok;
  EXPECT_NO_THROW(validate(ok, 1));  // POPO works with G = 1
  ok.name = Algorithm::kGrpo;
  EXPECT_NO_THROW(validate(ok, 2));
}

// Every mode is an enum parsed once at config load: a misspelt value fails there, naming the
// key and listing the values accepted.
TEST(AlgoConfig, ModesAreParsedAtConfigLoadWithTheAcceptedNames) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"algo.name=ppo", "popo | grpo | psr | nsr | w_reinforce | raft | rloo"},
      {"popo.weights=linear", "softmax | uniform"},
      {"popo.entropy_on=neg", "all | positives"},
      {"popo.momentum_law=step", "fixed | cosine | adaptive"},
      {"grpo.loss_agg=sum", "seq-mean-token-mean | token-mean | seq-mean-token-sum-norm"},
      {"grpo.scale_rewards=batch", "group | none"},
      {"grpo.old_logp=old", "detached | behaviour"},
      {"trainer.schedule=linear", "cosine | constant"},
  };
  for (const auto& [override_text, names] : cases) {
    RunConfig cfg;
    try {
      apply_override(cfg, override_text);
      ADD_FAILURE() << override_text << ": no error";
    } catch (const Error& e) {
      const std::string key = override_text.substr(0, override_text.find('='));
      EXPECT_NE(std::string(e.what()).find("key '" + key + "'"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("one of " + names), std::string::npos) << e.what();
    }
  }
  RunConfig cfg;
  apply_override(cfg, "algo.name=w_reinforce");
  EXPECT_EQ(cfg.algo.name, Algorithm::kWReinforce);
  EXPECT_STREQ(cfg.algo.name_text(), "w_reinforce");
}

// The traits table, against POPO.md's description of each algorithm.
TEST(AlgoConfig, TraitsMatchEachAlgorithm) {
  for (int i = 0; i < static_cast<int>(enum_names(Algorithm{}).size()); ++i) {
    const Algorithm a = static_cast<Algorithm>(i);
    EXPECT_EQ(traits(a).id, a);
    EXPECT_STREQ(traits(a).name, enum_names(a)[static_cast<size_t>(i)]);
  }
  AlgoConfig c;
  c.name = Algorithm::kPopo;  // popo: positive path, siamese + predictor, all rows (entropy on all)
  c.popo.entropy_on = EntropyScope::kAll;
  EXPECT_TRUE(c.positive_path() && c.needs_siamese() && c.needs_predictor() && !c.needs_reference());
  EXPECT_EQ(c.forward_rows(), ForwardRows::kAll);
  c.popo.entropy_on = EntropyScope::kPositives;
  EXPECT_EQ(c.forward_rows(), ForwardRows::kPositives);
  c.popo.entropy_on = EntropyScope::kAll;
  c.popo.entropy_coef = 0;
  EXPECT_EQ(c.forward_rows(), ForwardRows::kPositives);  // nothing reads a negative row
  c.name = Algorithm::kRaft;  // raft: positive path without POPO's terms
  c.popo.entropy_coef = 0.01;
  EXPECT_TRUE(c.positive_path() && !c.needs_siamese() && !c.needs_predictor());
  EXPECT_EQ(c.forward_rows(), ForwardRows::kPositives);
  EXPECT_EQ(c.loss_popo().weights, PopoWeights::kUniform);
  EXPECT_EQ(c.loss_popo().sim_coef, 0.0);
  EXPECT_EQ(c.loss_popo().entropy_coef, 0.0);
  for (Algorithm a : {Algorithm::kGrpo, Algorithm::kRloo, Algorithm::kPsr, Algorithm::kNsr,
                      Algorithm::kWReinforce}) {
    c.name = a;
    EXPECT_FALSE(c.positive_path()) << c.name_text();
    EXPECT_EQ(c.forward_rows(), ForwardRows::kAll) << c.name_text();
    EXPECT_FALSE(c.needs_siamese()) << c.name_text();
    EXPECT_EQ(traits(a).compares_group, a == Algorithm::kGrpo || a == Algorithm::kRloo);
    c.grpo.kl_coef = 0.01;
    EXPECT_TRUE(c.needs_reference()) << c.name_text();
    c.grpo.kl_coef = 0;
  }
}

}  // namespace
}  // namespace popo
