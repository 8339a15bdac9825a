// Hand-computed checks of the per-rollout coefficients (rl/advantages.h) and of the algorithm
// config validation (rl/algo_config.h). Std is the unbiased one (divisor G - 1), as TRL.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "rl/advantages.h"
#include "rl/algo_config.h"

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
  cfg.name = "grpo";
  cfg.grpo.eps = 0;
  expect_values(rollout_coefficients(cfg, r, 4, {}), {0.866025, -0.866025, -0.866025, 0.866025});
  cfg.name = "popo";
  expect_values(rollout_coefficients(cfg, r, 4, l), {0.5, 0, 0, 0.5});
  cfg.name = "nsr";
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
      {"name", [](AlgoConfig& c) { c.name = "ppo"; }, 4, "popo | grpo | psr | nsr | w_reinforce | raft | rloo"},
      {"grpo G=1", [](AlgoConfig& c) { c.name = "grpo"; }, 1, ">= 2"},
      {"rloo G=1", [](AlgoConfig& c) { c.name = "rloo"; }, 1, "algo.name=rloo"},
      {"weights", [](AlgoConfig& c) { c.popo.weights = "linear"; }, 4, "popo.weights"},
      {"entropy_on", [](AlgoConfig& c) { c.popo.entropy_on = "neg"; }, 4, "popo.entropy_on"},
      {"momentum", [](AlgoConfig& c) { c.popo.momentum = 1.5; }, 4, "popo.momentum"},
      {"law", [](AlgoConfig& c) { c.popo.momentum_law = "step"; }, 4, "fixed | cosine | adaptive"},
      {"T_w", [](AlgoConfig& c) { c.popo.weight_temperature = 0; }, 4, "popo.weight_temperature"},
      {"loss_agg", [](AlgoConfig& c) { c.grpo.loss_agg = "sum"; }, 4, "grpo.loss_agg"},
      {"scale", [](AlgoConfig& c) { c.grpo.scale_rewards = "batch"; }, 4, "grpo.scale_rewards"},
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
  ok.name = "grpo";
  EXPECT_NO_THROW(validate(ok, 2));
}

}  // namespace
}  // namespace popo
