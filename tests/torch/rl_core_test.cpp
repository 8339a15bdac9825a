// RL-core fixes of issue #21, each against an independent expectation: the bf16 siamese follows
// the fp32 EMA (and its masters survive a checkpoint), Dr. GRPO divides by the response budget,
// a POPO step without positives has zero loss and no gradient at all, the adaptive momentum law
// ignores step 0, the predictor sits outside the clipping norm and is decayed everywhere, and
// DAPO's overlong shaping, group filter, batch surgery and overlong filter on hand-made batches.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "model/causal_lm.h"
#include "model/load.h"
#include "train/checkpoint.h"
#include "train/learner.h"
#include "rl/rollout_filter.h"
#include "torch_test_util.h"

namespace popo {
namespace {

using test::tiny_learner_config;

// The shared 3 x 2 batch (torch_test_util.h), prompts unpadded; rewards as each test gives.
RolloutBatch batch3x2() { return test::rollouts_3x2(/*pad_group1_prompt=*/false); }

// A bf16 policy and its bf16 siamese, both the tiny random model of `seed` (xi_0 = theta_0).
struct Bf16Pair {
  CausalLM policy{nullptr}, siamese{nullptr};
};
Bf16Pair bf16_pair(uint64_t seed) {
  Bf16Pair p;
  p.policy = make_random_model(tiny_learner_config(), seed);
  p.siamese = make_random_model(tiny_learner_config(), seed);
  p.policy->to(torch::kBFloat16);
  p.siamese->to(torch::kBFloat16);
  return p;
}

std::vector<torch::Tensor> clones(const std::vector<torch::Tensor>& v) {
  std::vector<torch::Tensor> out;
  for (const torch::Tensor& t : v) out.push_back(t.detach().clone());
  return out;
}

OptimConfig constant_lr(double lr) {
  OptimConfig oc;
  oc.lr = lr;
  oc.warmup_ratio = 0;
  oc.schedule = LrSchedule::kConstant;
  return oc;
}

// ---- 1. bf16 siamese with fp32 masters ---------------------------------------------------------

TEST(SiameseMasters, Bf16SiameseFollowsTheFp32Ema) {
  // The policy and siamese are bf16. After each step the expected siamese is the EMA, in float64,
  // of the policy's fp32 masters: xi_k = tau xi_{k-1} + (1 - tau) theta_k. The bf16 siamese must
  // be that value rounded to bf16 (within one bf16 ulp), and most of its weights must have moved.
  // Before the fix the EMA ran in bf16, and (1 - tau)(theta - xi) rounded away.
  auto [policy, siamese] = bf16_pair(/*seed=*/1);
  torch::manual_seed(9);
  Predictor predictor(16, 8, 2);
  AlgoConfig algo;  // popo, tau 0.995
  Learner learner(policy, predictor, algo, constant_lr(1e-2), LearnerConfig{}, siamese);
  ASSERT_EQ(learner.siamese_master_weights().size(), siamese->parameters().size());
  const double tau = algo.popo.momentum;
  std::vector<torch::Tensor> xi;  // float64 EMA
  for (const torch::Tensor& p : siamese->parameters()) xi.push_back(p.detach().to(torch::kDouble));
  const std::vector<torch::Tensor> xi0 = clones(siamese->parameters());
  RolloutBatch batch = batch3x2();
  torch::Tensor rewards = torch::tensor({1.0f, 0.0f, 0.0f, 1.0f, 1.0f, 1.0f});
  const size_t n = policy->parameters().size();
  for (int k = 0; k < 12; ++k) {
    LearnerStep st = learner.step(batch, rewards, learner.coefficients(batch, rewards));
    ASSERT_FALSE(st.skipped);
    const std::vector<torch::Tensor> theta = learner.master_weights();  // policy masters first
    for (size_t i = 0; i < n; ++i) xi[i] = tau * xi[i] + (1 - tau) * theta[i].to(torch::kDouble);
  }
  double moved = 0, total = 0;
  const std::vector<torch::Tensor> got = siamese->parameters();
  for (size_t i = 0; i < n; ++i) {
    torch::Tensor want = xi[i];
    // One bf16 ulp of the expected value: 2^(floor(log2 |x|) - 7).
    torch::Tensor ulp = torch::pow(2.0, torch::floor(torch::log2(want.abs().clamp_min(1e-30))) - 7);
    torch::Tensor err = (got[i].to(torch::kDouble) - want).abs();
    EXPECT_TRUE((err <= ulp).all().item<bool>())
        << i << ": max err/ulp " << (err / ulp).max().item<double>();
    // The fp32 masters hold the EMA itself.
    EXPECT_LE((learner.siamese_master_weights()[i].to(torch::kDouble) - want).abs().max().item<double>(),
              1e-6 * (1 + want.abs().max().item<double>()))
        << i;
    if (got[i].dim() >= 2) {
      moved += (got[i] != xi0[i]).sum().item<double>();
      total += double(got[i].numel());
    }
  }
  EXPECT_GT(moved / total, 0.5) << "share of siamese matrix weights that moved";
}

TEST(SiameseMasters, CheckpointKeepsSiameseMasters) {
  auto [policy, siamese] = bf16_pair(/*seed=*/1);
  torch::manual_seed(9);
  Predictor predictor(16, 8, 2);
  Learner learner(policy, predictor, AlgoConfig{}, constant_lr(1e-2), LearnerConfig{}, siamese);
  RolloutBatch batch = batch3x2();
  torch::Tensor rewards = torch::tensor({1.0f, 0.0f, 0.0f, 1.0f, 1.0f, 1.0f});
  for (int k = 0; k < 2; ++k) learner.step(batch, rewards, learner.coefficients(batch, rewards));
  const std::vector<torch::Tensor> saved = clones(learner.siamese_master_weights());
  double lost = 0;  // precision the bf16 siamese does not carry
  for (const torch::Tensor& m : saved)
    lost += (m - m.to(torch::kBFloat16).to(torch::kFloat)).abs().sum().item<double>();
  ASSERT_GT(lost, 0);

  const std::string dir = test::scratch_dir("siamese_masters");
  CheckpointParts parts;
  parts.policy = &policy;
  parts.siamese = &siamese;
  parts.siamese_masters = learner.siamese_master_weights();
  parts.siamese_mastered = learner.siamese_mastered_parameters();
  TrainerState state;
  state.step = 2;
  const std::string ck = save_checkpoint(dir, parts, state, /*keep_last=*/1);
  ASSERT_TRUE(std::filesystem::exists(ck + "/siamese_masters.pt"));

  auto [policy2, siamese2] = bf16_pair(/*seed=*/3);
  Learner learner2(policy2, predictor, AlgoConfig{}, constant_lr(1e-2), LearnerConfig{}, siamese2);
  CheckpointParts parts2;
  parts2.policy = &policy2;
  parts2.siamese = &siamese2;
  parts2.siamese_masters = learner2.siamese_master_weights();
  parts2.siamese_mastered = learner2.siamese_mastered_parameters();
  load_checkpoint(ck, parts2);
  const std::vector<torch::Tensor>& got = learner2.siamese_master_weights();
  ASSERT_EQ(got.size(), saved.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(torch::equal(got[i], saved[i])) << i;
  std::filesystem::remove_all(dir);
}

// ---- 3. Dr. GRPO's constant divisor ----------------------------------------------------------

TEST(DrGrpo, DivisorIsTheResponseBudgetNotTheLongestResponse) {
  // rewards 1 0 | 0 0 | 1 1 with scale_rewards=none: A = 0.5 -0.5 | 0 0 | 0 0. With rho = 1 the
  // per-token loss is -A, so the token sum is -(0.5 * 4) + 0.5 * 2 = -1 (lengths 4 and 2). The
  // step loss is -1 / (N * Lmax) = -1 / (6 * 10) with the budget Lmax = 10; the batch's widest
  // response (4 tokens) would give -1 / 24.
  CausalLM policy = make_random_model(tiny_learner_config(), /*seed=*/1);
  AlgoConfig algo;
  algo.name = Algorithm::kGrpo;
  algo.grpo.scale_rewards = RewardScale::kNone;
  algo.grpo.loss_agg = LossAgg::kSeqMeanTokenSumNorm;
  LearnerConfig lc;
  lc.response_budget = 10;
  Learner learner(policy, nullptr, algo, OptimConfig{}, lc);
  RolloutBatch batch = batch3x2();
  torch::Tensor rewards = torch::tensor({1.0f, 0.0f, 0.0f, 0.0f, 1.0f, 1.0f});
  auto m = learner.accumulate_gradients(batch, rewards, learner.coefficients(batch, rewards));
  EXPECT_NEAR(m.at("loss"), -1.0 / 60.0, 1e-7);
  // grpo.loss_agg_max_len overrides the budget.
  algo.grpo.loss_agg_max_len = 5;
  Learner learner5(policy, nullptr, algo, OptimConfig{}, lc);
  m = learner5.accumulate_gradients(batch, rewards, learner5.coefficients(batch, rewards));
  EXPECT_NEAR(m.at("loss"), -1.0 / 30.0, 1e-7);
}

// ---- 4. no positive: zero loss, no gradient --------------------------------------------------

TEST(PopoNoPositive, StepWithoutPositiveHasZeroLossAndNoGradientEntropyIncluded) {
  CausalLM policy = make_random_model(tiny_learner_config(), /*seed=*/1);
  CausalLM siamese = make_random_model(tiny_learner_config(), /*seed=*/1);
  torch::manual_seed(9);
  Predictor predictor(16, 8, 2);
  AlgoConfig algo;
  algo.popo.entropy_on = EntropyScope::kAll;
  algo.popo.entropy_coef = 0.5;
  for (int64_t mb : {6, 2}) {
    LearnerConfig lc;
    lc.update.micro_batch_size = mb;
    Learner learner(policy, predictor, algo, OptimConfig{}, lc, siamese);
    RolloutBatch batch = batch3x2();
    torch::Tensor rewards = torch::zeros({6});
    auto m = learner.accumulate_gradients(batch, rewards, learner.coefficients(batch, rewards));
    EXPECT_EQ(m.at("loss"), 0.0);
    double gmax = 0;
    for (const torch::Tensor& p : learner.trainable_parameters())
      gmax = std::max(gmax, p.grad().abs().max().item<double>());
    EXPECT_EQ(gmax, 0.0) << "micro-batch " << mb;
  }
  // With one positive the same batch has an entropy gradient on the negatives' micro-batches too
  // (step-global normalisers): the gradient is split-invariant and nonzero.
  torch::Tensor g_ref;
  for (int64_t mb : {6, 2, 1}) {
    LearnerConfig lc;
    lc.update.micro_batch_size = mb;
    Learner learner(policy, predictor, algo, OptimConfig{}, lc, siamese);
    RolloutBatch batch = batch3x2();
    torch::Tensor rewards = torch::tensor({0.0f, 0.0f, 0.0f, 0.0f, 1.0f, 0.0f});
    learner.accumulate_gradients(batch, rewards, learner.coefficients(batch, rewards));
    std::vector<torch::Tensor> g;
    for (const torch::Tensor& p : learner.trainable_parameters()) g.push_back(p.grad().reshape({-1}).clone());
    torch::Tensor flat = torch::cat(g);
    if (!g_ref.defined()) {
      g_ref = flat;
      ASSERT_GT(g_ref.abs().max().item<double>(), 0.0);
    } else {
      EXPECT_LE((flat - g_ref).abs().max().item<double>(), 1e-6 * g_ref.abs().max().item<double>()) << mb;
    }
  }
}

// ---- 5. adaptive momentum law skips step 0 ---------------------------------------------------

TEST(MomentumLaw, AdaptiveLawIgnoresTheStepZeroKl) {
  // xi_0 = theta_0: the step-0 KL is 0 < target / 1.5, which would lower tau to 1 - 2 (1 - 0.995)
  // = 0.99 on no information. The law must leave tau at 0.995 after step 0 and react from the
  // next measurement (kl_every = 1) on.
  CausalLM policy = make_random_model(tiny_learner_config(), /*seed=*/1);
  CausalLM siamese = make_random_model(tiny_learner_config(), /*seed=*/1);
  torch::manual_seed(9);
  Predictor predictor(16, 8, 2);
  AlgoConfig algo;
  algo.popo.momentum_law = MomentumLaw::kAdaptive;
  algo.popo.kl_every = 1;
  algo.popo.momentum_target_kl = 1e3;  // any measured KL is below target / 1.5
  Learner learner(policy, predictor, algo, constant_lr(1e-3), LearnerConfig{}, siamese);
  RolloutBatch batch = batch3x2();
  torch::Tensor rewards = torch::tensor({1.0f, 0.0f, 0.0f, 1.0f, 1.0f, 1.0f});
  LearnerStep s0 = learner.step(batch, rewards, learner.coefficients(batch, rewards));
  EXPECT_NEAR(s0.metrics.at("popo/kl_to_siamese"), 0.0, 1e-9);
  EXPECT_DOUBLE_EQ(learner.momentum().state(), 0.995);
  learner.step(batch, rewards, learner.coefficients(batch, rewards));
  EXPECT_NEAR(learner.momentum().state(), 0.99, 1e-12);
}

// ---- 6. predictor: outside the clip, every parameter decayed ---------------------------------

TEST(PredictorOptim, ClipsThePolicyOnlyAndDecaysEveryPredictorParameter) {
  CausalLM policy = make_random_model(tiny_learner_config(), /*seed=*/1);
  CausalLM siamese = make_random_model(tiny_learner_config(), /*seed=*/1);
  torch::manual_seed(9);
  Predictor predictor(16, 8, 2);
  OptimConfig oc = constant_lr(1e-3);
  oc.grad_clip = 1e-4;  // far below the raw norm
  Learner learner(policy, predictor, AlgoConfig{}, oc, LearnerConfig{}, siamese);
  RolloutBatch batch = batch3x2();
  torch::Tensor rewards = torch::tensor({1.0f, 0.0f, 0.0f, 1.0f, 1.0f, 1.0f});
  torch::Tensor coef = learner.coefficients(batch, rewards);
  learner.accumulate_gradients(batch, rewards, coef);
  const std::vector<torch::Tensor> raw_pred = clones([&] {
    std::vector<torch::Tensor> g;
    for (const torch::Tensor& p : predictor->parameters()) g.push_back(p.grad());
    return g;
  }());
  double raw_policy_sq = 0;
  for (const torch::Tensor& p : policy->parameters()) raw_policy_sq += p.grad().pow(2).sum().item<double>();
  LearnerStep st = learner.step(batch, rewards, coef);
  ASSERT_FALSE(st.skipped);
  EXPECT_NEAR(st.metrics.at("grad_norm"), std::sqrt(raw_policy_sq), 1e-4 * std::sqrt(raw_policy_sq));
  double clipped_sq = 0;
  for (const torch::Tensor& p : policy->parameters()) clipped_sq += p.grad().pow(2).sum().item<double>();
  EXPECT_NEAR(std::sqrt(clipped_sq), 1e-4, 1e-6);  // the policy's gradients were clipped
  const std::vector<torch::Tensor> pred = predictor->parameters();
  for (size_t i = 0; i < pred.size(); ++i)
    EXPECT_TRUE(torch::equal(pred[i].grad(), raw_pred[i])) << "predictor gradient " << i << " was scaled";
  // Weight decay: every predictor parameter (biases and LayerNorm included) in a decayed group;
  // the policy's 1-D parameters undecayed.
  int64_t decayed_pred = 0, undecayed_policy_1d = 0;
  for (auto& group : learner.optimizer().param_groups()) {
    const double wd = static_cast<torch::optim::AdamWOptions&>(group.options()).weight_decay();
    for (const torch::Tensor& p : group.params()) {
      bool is_pred = false;
      for (const torch::Tensor& q : pred) is_pred = is_pred || q.is_same(p);
      if (is_pred) decayed_pred += wd == oc.weight_decay ? 1 : 0;
      if (!is_pred && p.dim() == 1) undecayed_policy_1d += wd == 0.0 ? 1 : 0;
    }
  }
  EXPECT_EQ(decayed_pred, static_cast<int64_t>(pred.size()));
  EXPECT_GT(undecayed_policy_1d, 0);
}

// ---- 2. DAPO: overlong shaping, group filter, batch surgery, overlong filter -----------------

TEST(Dapo, OverlongPenaltyHandComputed) {
  // Lmax = 20, B = 4: lengths <= 16 get 0; L = 17 -> (16 - 17) / 4 = -0.25 (x factor).
  struct Case { int64_t len, budget, buffer; double factor, want; };
  const std::vector<Case> cases = {
      {10, 20, 4, 1.0, 0.0},   {16, 20, 4, 1.0, 0.0},  {17, 20, 4, 1.0, -0.25},
      {18, 20, 4, 1.0, -0.5},  {20, 20, 4, 1.0, -1.0}, {20, 20, 4, 0.5, -0.5},
      {19, 20, 0, 1.0, 0.0},   {1, 20, 20, 1.0, -0.05}, {0, 20, 20, 1.0, 0.0},
  };
  for (const Case& c : cases)
    EXPECT_DOUBLE_EQ(overlong_penalty(c.len, c.budget, c.buffer, c.factor), c.want)
        << "L=" << c.len << " Lmax=" << c.budget << " B=" << c.buffer;
  EXPECT_THROW(overlong_penalty(5, 20, 21, 1.0), popo::Error);
}

TEST(Dapo, MixedGroupsKeepsGroupsWithUnequalVerdicts) {
  // G = 3: [1 1 1] all correct, [0 1 0] mixed, [0 0 0] all wrong, [1 0 0] mixed.
  EXPECT_EQ(mixed_groups({1, 1, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0}, 3), (std::vector<int64_t>{1, 3}));
  EXPECT_TRUE(mixed_groups({0, 0, 1, 1}, 2).empty());
}

TEST(Dapo, SelectAndConcatKeepRowsAndPadding) {
  RolloutBatch b = batch3x2();
  RolloutBatch kept = select_groups(b, {2, 0});
  ASSERT_EQ(kept.num_prompts, 2);
  EXPECT_TRUE(torch::equal(kept.response_ids[0], b.response_ids[4]));
  EXPECT_TRUE(torch::equal(kept.response_ids[3], b.response_ids[1]));
  EXPECT_EQ(kept.group, (std::vector<int64_t>{2, 2, 0, 0}));
  // A second round with wider prompts (5) and narrower responses (2).
  RolloutBatch c;
  c.num_prompts = 1;
  c.group_size = 2;
  c.prompt_ids = torch::full({2, 5}, 7, torch::kLong);
  c.prompt_mask = torch::ones({2, 5}, torch::kLong);
  c.response_ids = torch::full({2, 2}, 9, torch::kLong);
  c.response_mask = torch::ones({2, 2});
  c.logp = -torch::ones({2, 2});
  c.finish = {FinishReason::kStop, FinishReason::kStop};
  RolloutBatch all = concat_rollouts({kept, c});
  ASSERT_EQ(all.num_prompts, 3);
  EXPECT_EQ(all.prompt_ids.sizes(), (std::vector<int64_t>{6, 5}));
  EXPECT_EQ(all.response_ids.sizes(), (std::vector<int64_t>{6, 4}));
  // Old prompts left-padded by 2 zeros, the new responses right-padded by 2 masked zeros.
  EXPECT_TRUE(torch::equal(all.prompt_ids[0].narrow(0, 2, 3), b.prompt_ids[4]));
  EXPECT_EQ(all.prompt_mask[0].narrow(0, 0, 2).sum().item<int64_t>(), 0);
  EXPECT_EQ(all.response_mask[5].sum().item<double>(), 2.0);
  EXPECT_EQ(all.response_ids[5][3].item<int64_t>(), 0);
  EXPECT_EQ(all.finish.size(), 6u);
  EXPECT_TRUE(torch::equal(all.response_mask.narrow(0, 0, 4), kept.response_mask));
}

TEST(Dapo, OverlongFilterMasksTruncatedRowsOnly) {
  RolloutBatch b = batch3x2();
  const torch::Tensor before = b.response_mask.clone();
  EXPECT_EQ(mask_truncated(&b), 2);  // rows 0 and 3 stopped at the budget
  EXPECT_EQ(b.response_mask[0].sum().item<double>(), 0.0);
  EXPECT_EQ(b.response_mask[3].sum().item<double>(), 0.0);
  for (int64_t r : {1, 2, 4, 5}) EXPECT_TRUE(torch::equal(b.response_mask[r], before[r])) << r;
}

}  // namespace
}  // namespace popo
