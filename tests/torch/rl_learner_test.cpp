// Learner checks on a tiny random Qwen2 model: the accumulated gradient does not depend on the
// micro-batch size (POPO, GRPO with a reference KL, RAFT), a POPO step lowers the NLL of the
// positives, and entropy_on=positives forwards the positive rollouts only.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

#include "core/config.h"
#include "model/causal_lm.h"
#include "model/load.h"
#include "train/learner.h"
#include "rl/token_logprobs.h"
#include "torch_test_util.h"

namespace popo {
namespace {

using test::tiny_learner_config;

// The shared 3 x 2 batch with group 1's prompt left-padded to 2 tokens.
// Rewards: group 0 one positive, group 1 none, group 2 both positive.
RolloutBatch tiny_batch() { return test::rollouts_3x2(/*pad_group1_prompt=*/true); }

torch::Tensor tiny_rewards() { return torch::tensor({1.0f, 0.0f, 0.0f, 0.0f, 1.0f, 1.0f}); }

struct Nets {
  CausalLM policy{nullptr}, siamese{nullptr}, reference{nullptr};
  Predictor predictor{nullptr};
  Nets() {
    policy = make_random_model(tiny_learner_config(), /*seed=*/1);
    siamese = make_random_model(tiny_learner_config(), /*seed=*/1);
    reference = make_random_model(tiny_learner_config(), /*seed=*/2);
    torch::manual_seed(9);
    predictor = Predictor(16, 8, 2);
  }
};

torch::Tensor flat_grads(const Learner& l) {
  std::vector<torch::Tensor> g;
  for (const torch::Tensor& p : l.trainable_parameters()) g.push_back(p.grad().reshape({-1}).clone());
  return torch::cat(g);
}

TEST(Learner, GradientIndependentOfMicroBatchSize) {
  std::vector<AlgoConfig> cfgs(4);
  cfgs[0].name = Algorithm::kPopo;                                  // sim + entropy on all tokens, KL step
  cfgs[1].name = Algorithm::kGrpo;
  cfgs[1].grpo.kl_coef = 0.05;
  cfgs[1].grpo.old_logp = OldLogp::kBehaviour;
  cfgs[2].name = Algorithm::kRaft;
  cfgs[3].name = Algorithm::kGrpo;
  cfgs[3].grpo.loss_agg = LossAgg::kTokenMean;
  RolloutBatch batch = tiny_batch();
  torch::Tensor rewards = tiny_rewards();
  for (const AlgoConfig& algo : cfgs) {
    Nets nets;
    torch::Tensor g1, coef;
    double loss1 = 0;
    for (int64_t mb : {6, 1, 2, 4}) {
      LearnerConfig lc;
      lc.update.micro_batch_size = mb;
      Learner learner(nets.policy, nets.predictor, algo, OptimConfig{}, lc, nets.siamese,
                      nets.reference);
      if (!coef.defined()) coef = learner.coefficients(batch, rewards);
      auto metrics = learner.accumulate_gradients(batch, rewards, coef);
      torch::Tensor g = flat_grads(learner);
      if (!g1.defined()) {
        g1 = g;
        loss1 = metrics.at("loss");
        ASSERT_GT(g1.abs().max().item<double>(), 0.0) << algo.name;
        continue;
      }
      const double scale = g1.abs().max().item<double>();
      EXPECT_LE((g - g1).abs().max().item<double>(), 1e-6 * scale)
          << algo.name << " " << algo.grpo.loss_agg << " micro-batch " << mb;
      EXPECT_NEAR(metrics.at("loss"), loss1, 1e-6 * std::max(1.0, std::abs(loss1))) << algo.name;
    }
  }
}

// Returns the token-mean NLL of the positive rollouts under the policy.
double positive_nll(CausalLM& policy, const RolloutBatch& b, const torch::Tensor& rewards) {
  torch::NoGradGuard ng;
  torch::Tensor ids = torch::cat({b.prompt_ids, b.response_ids}, 1);
  torch::Tensor attn = torch::cat({b.prompt_mask, b.response_mask.to(torch::kLong)}, 1);
  torch::Tensor h = policy->forward_hidden(ids, attn).narrow(1, 2, 4);
  TokenStats s = token_logprobs(h, policy->lm_head_->weight, b.response_ids, 1.0, false, 64);
  torch::Tensor m = b.response_mask * (rewards > 0).to(torch::kFloat).unsqueeze(1);
  return (-(s.logp * m).sum() / m.sum()).item<double>();
}

TEST(Learner, PopoStepLowersPositiveNll) {
  Nets nets;
  AlgoConfig algo;  // popo defaults
  OptimConfig oc;
  oc.lr = 1e-2;
  oc.warmup_ratio = 0;
  oc.schedule = LrSchedule::kConstant;
  Learner learner(nets.policy, nets.predictor, algo, oc, LearnerConfig{}, nets.siamese);
  RolloutBatch batch = tiny_batch();
  torch::Tensor rewards = tiny_rewards();
  const double before = positive_nll(nets.policy, batch, rewards);
  for (int i = 0; i < 3; ++i) {
    LearnerStep st = learner.step(batch, rewards, learner.coefficients(batch, rewards));
    ASSERT_FALSE(st.skipped);
    EXPECT_TRUE(std::isfinite(st.metrics.at("grad_norm")));
    if (i == 0) {
      EXPECT_NEAR(st.metrics.at("popo/kl_to_siamese"), 0.0, 1e-6);  // xi_0 = theta_0
    }
    EXPECT_NEAR(st.metrics.at("popo/positive_ratio"), 0.5, 1e-9);
    EXPECT_NEAR(st.metrics.at("popo/tau"), 0.995, 1e-12);
  }
  EXPECT_LT(positive_nll(nets.policy, batch, rewards), before - 1e-3);
  EXPECT_EQ(learner.steps_done(), 3);
  // the siamese moved toward the policy but is not equal to it
  torch::Tensor ws = nets.siamese->named_parameters()["model.embed_tokens.weight"];
  torch::Tensor wp = nets.policy->named_parameters()["model.embed_tokens.weight"];
  EXPECT_FALSE(torch::equal(ws, wp));
}

TEST(Learner, EntropyOnPositivesForwardsPositivesOnly) {
  for (const char* on : {"positives", "all"}) {
    Nets nets;
    int64_t rows_seen = 0;
    nets.policy->tap = [&](const std::string& name, int64_t, const torch::Tensor& x) {
      if (name == "norm") rows_seen += x.size(0);
    };
    AlgoConfig algo;
    algo.popo.entropy_on = parse_enum<EntropyScope>(on, "popo.entropy_on");
    algo.popo.weights = PopoWeights::kUniform;  // no log-prob forward for the weights
    LearnerConfig lc;
    lc.update.micro_batch_size = 2;
    Learner learner(nets.policy, nets.predictor, algo, OptimConfig{}, lc, nets.siamese);
    RolloutBatch batch = tiny_batch();
    torch::Tensor rewards = tiny_rewards();
    learner.accumulate_gradients(batch, rewards, learner.coefficients(batch, rewards));
    EXPECT_EQ(rows_seen, std::string(on) == "positives" ? 3 : 6) << on;
  }
}

TEST(Learner, LearningRateWarmupThenCosine) {
  Nets nets;
  OptimConfig oc;
  oc.lr = 1.0;
  oc.steps = 10;
  oc.warmup_ratio = 0.2;  // 2 warmup steps
  AlgoConfig algo;
  algo.name = Algorithm::kRaft;
  Learner learner(nets.policy, nullptr, algo, oc, LearnerConfig{});
  EXPECT_DOUBLE_EQ(learner.lr_at(0), 0.0);
  EXPECT_DOUBLE_EQ(learner.lr_at(1), 0.5);
  EXPECT_DOUBLE_EQ(learner.lr_at(2), 1.0);
  EXPECT_NEAR(learner.lr_at(6), 0.5, 1e-12);  // halfway through the 8 cosine steps
  EXPECT_NEAR(learner.lr_at(10), 0.0, 1e-12);
}

TEST(Learner, NonFiniteLossSkipsTheUpdate) {
  Nets nets;
  {
    torch::NoGradGuard ng;
    nets.predictor->parameters()[0].fill_(NAN);  // poisons the similarity term
  }
  Learner learner(nets.policy, nets.predictor, AlgoConfig{}, OptimConfig{}, LearnerConfig{},
                  nets.siamese);
  RolloutBatch batch = tiny_batch();
  torch::Tensor rewards = tiny_rewards();
  torch::Tensor w0 = nets.policy->named_parameters()["lm_head.weight"].clone();
  LearnerStep st = learner.step(batch, rewards, learner.coefficients(batch, rewards));
  EXPECT_TRUE(st.skipped);
  EXPECT_EQ(learner.steps_done(), 0);
  EXPECT_TRUE(torch::equal(nets.policy->named_parameters()["lm_head.weight"], w0));
}

// trainer.adam_beta1 / adam_beta2 / adam_eps reach AdamW: the options of every parameter group,
// and the first step's size. Adam's first update is lr * g / (|g| + eps) per weight (bias
// corrections cancel), so with eps far above |g| the step shrinks by orders of magnitude.
TEST(Learner, AdamOptionsReachTheOptimizer) {
  RolloutBatch batch = tiny_batch();
  torch::Tensor rewards = tiny_rewards();
  AlgoConfig algo;
  algo.name = Algorithm::kRaft;
  auto max_step = [&](double eps) {
    CausalLM policy = make_random_model(tiny_learner_config(), /*seed=*/1);
    OptimConfig oc;
    oc.lr = 1e-2;
    oc.warmup_ratio = 0;
    oc.schedule = LrSchedule::kConstant;
    oc.weight_decay = 0;
    oc.adam_beta1 = 0.8;
    oc.adam_beta2 = 0.95;
    oc.adam_eps = eps;
    Learner learner(policy, nullptr, algo, oc, LearnerConfig{});
    for (auto& group : learner.optimizer().param_groups()) {
      const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
      EXPECT_EQ(std::get<0>(o.betas()), 0.8);
      EXPECT_EQ(std::get<1>(o.betas()), 0.95);
      EXPECT_EQ(o.eps(), eps);
    }
    std::vector<torch::Tensor> before;
    for (const auto& p : policy->parameters()) before.push_back(p.detach().clone());
    EXPECT_FALSE(learner.step(batch, rewards, learner.coefficients(batch, rewards)).skipped);
    double m = 0;
    const auto after = policy->parameters();
    for (size_t i = 0; i < after.size(); ++i)
      m = std::max(m, (after[i].detach() - before[i]).abs().max().item<double>());
    return m;
  };
  EXPECT_NEAR(max_step(1e-8), 1e-2, 1e-4);  // sign(g) steps of lr
  EXPECT_LT(max_step(10.0), 1.1e-3);  // eps dominates |g| <= 1 (clipped): at most lr / 10
}

}  // namespace
}  // namespace popo
