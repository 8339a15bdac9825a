// Mixed-precision learner checks on a tiny random Qwen2 model in bf16 on the CPU: AdamW steps
// with lr 1e-6 move the fp32 master weights by ~lr per element (Adam's first steps are
// lr * sign(g)) and the bf16 weights are the rounded masters, while plain AdamW on the bf16
// parameters leaves almost every matrix element where it was (the update is below half an ulp).
// An fp32 policy gets no masters (the optimizer updates the parameters themselves); masters go
// through a checkpoint unchanged; the siamese update can read the masters.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

#include "core/error.h"
#include "model/causal_lm.h"
#include "model/load.h"
#include "train/checkpoint.h"
#include "train/learner.h"
#include "rl/momentum.h"
#include "torch_test_util.h"

namespace popo {
namespace {

using test::tiny_learner_config;

// 2 prompts x G = 2, prompts of width 3, responses of width 4; rewards 1 0 | 1 1.
RolloutBatch tiny_batch() {
  torch::manual_seed(5);
  RolloutBatch b;
  b.num_prompts = 2;
  b.group_size = 2;
  b.prompt_ids = torch::randint(1, 32, {4, 3}, torch::kLong);
  b.prompt_mask = torch::ones({4, 3}, torch::kLong);
  b.response_ids = torch::randint(1, 32, {4, 4}, torch::kLong);
  b.response_mask = torch::ones({4, 4}, torch::kFloat);
  return b;
}

torch::Tensor tiny_rewards() { return torch::tensor({1.0f, 0.0f, 1.0f, 1.0f}); }

OptimConfig small_lr() {
  OptimConfig oc;
  oc.lr = 1e-6;
  oc.warmup_ratio = 0;
  oc.schedule = LrSchedule::kConstant;
  oc.grad_clip = 0;  // Adam's direction does not depend on the gradient scale anyway
  return oc;
}

AlgoConfig raft() {
  AlgoConfig a;
  a.name = Algorithm::kRaft;
  return a;
}

// Returns the share of elements of the >= 2-D tensors that differ between a and b.
double changed_share(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double changed = 0, total = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].dim() < 2) continue;
    changed += (a[i].to(torch::kFloat) != b[i].to(torch::kFloat)).sum().item<double>();
    total += double(a[i].numel());
  }
  return changed / total;
}

std::vector<torch::Tensor> clones(const std::vector<torch::Tensor>& v) {
  std::vector<torch::Tensor> out;
  for (const torch::Tensor& t : v) out.push_back(t.detach().clone());
  return out;
}

TEST(MasterWeights, Bf16PolicyMovesThroughFp32Masters) {
  CausalLM policy = make_random_model(tiny_learner_config(), /*seed=*/1);
  policy->to(torch::kBFloat16);
  Learner learner(policy, nullptr, raft(), small_lr(), LearnerConfig{});
  const std::vector<torch::Tensor> params = policy->parameters();
  const std::vector<torch::Tensor> masters = learner.master_weights();
  ASSERT_EQ(masters.size(), params.size());
  for (size_t i = 0; i < masters.size(); ++i) {
    EXPECT_EQ(masters[i].scalar_type(), torch::kFloat);
    EXPECT_TRUE(torch::equal(masters[i], params[i].to(torch::kFloat)));  // start = the weights
    EXPECT_TRUE(learner.mastered_parameters()[i].is_same(params[i]));
  }
  const std::vector<torch::Tensor> w0 = clones(params), m0 = clones(masters);

  RolloutBatch batch = tiny_batch();
  torch::Tensor rewards = tiny_rewards();
  const int steps = 3;
  std::vector<torch::Tensor> grads0;  // the first step's gradients in bf16, for plain AdamW below
  for (int s = 0; s < steps; ++s) {
    LearnerStep st = learner.step(batch, rewards, learner.coefficients(batch, rewards));
    ASSERT_FALSE(st.skipped);
    // The step's gradient is summed in fp32, in the masters' .grad; the bf16 .grad is emptied
    // after every micro-batch.
    if (s == 0) {
      for (size_t i = 0; i < masters.size(); ++i) {
        EXPECT_EQ(masters[i].grad().scalar_type(), torch::kFloat);
        EXPECT_EQ(params[i].grad().count_nonzero().item<int64_t>(), 0) << i;
        grads0.push_back(masters[i].grad().to(torch::kBFloat16));
      }
    }
  }
  // Masters moved by about lr per element per step (Adam: ~lr * sign(g) while g keeps its sign).
  EXPECT_GT(changed_share(masters, m0), 0.8);
  double max_delta = 0;
  for (size_t i = 0; i < masters.size(); ++i)
    max_delta = std::max(max_delta, (masters[i] - m0[i]).abs().max().item<double>());
  EXPECT_GT(max_delta, 0.5e-6);
  EXPECT_LT(max_delta, steps * 1e-6 * 1.5);
  // The bf16 weights are the rounded masters.
  for (size_t i = 0; i < masters.size(); ++i)
    EXPECT_TRUE(torch::equal(params[i], masters[i].to(torch::kBFloat16))) << i;

  // Plain AdamW on bf16 copies of the weights with the same gradient: the matrices stay put.
  std::vector<torch::Tensor> plain;
  for (size_t i = 0; i < w0.size(); ++i) {
    plain.push_back(w0[i].clone().set_requires_grad(true));
    plain.back().mutable_grad() = grads0[i];
  }
  torch::optim::AdamW adam(plain, torch::optim::AdamWOptions(1e-6).weight_decay(0.01));
  for (int s = 0; s < steps; ++s) adam.step();
  EXPECT_LT(changed_share(plain, w0), 0.05);
}

TEST(MasterWeights, Bf16MicroBatchGradientsAreSummedInFp32) {
  // Four micro-batches of one rollout: the step's gradient is the fp32 sum of the positives' bf16 gradients,
  // so most of its elements are not bf16 numbers (a sum in the bf16 .grad would round each
  // partial sum to bf16, and every element would be one).
  CausalLM policy = make_random_model(tiny_learner_config(), /*seed=*/1);
  policy->to(torch::kBFloat16);
  LearnerConfig lc;
  lc.update.micro_batch_size = 1;
  Learner learner(policy, nullptr, raft(), small_lr(), lc);
  RolloutBatch batch = tiny_batch();
  torch::Tensor rewards = torch::ones({4});
  learner.accumulate_gradients(batch, rewards, learner.coefficients(batch, rewards));
  double off_grid = 0, total = 0;
  for (const torch::Tensor& m : learner.master_weights()) {
    const torch::Tensor g = m.grad();
    off_grid += (g != g.to(torch::kBFloat16).to(torch::kFloat)).sum().item<double>();
    total += double((g != 0).sum().item<int64_t>());
  }
  ASSERT_GT(total, 0);
  EXPECT_GT(off_grid / total, 0.5) << "the micro-batch gradients were summed in bf16";
}

TEST(MasterWeights, Fp32PolicyHasNoMasters) {
  CausalLM policy = make_random_model(tiny_learner_config(), /*seed=*/1);
  Learner learner(policy, nullptr, raft(), small_lr(), LearnerConfig{});
  EXPECT_TRUE(learner.master_weights().empty());
  EXPECT_TRUE(learner.mastered_parameters().empty());
  // The optimizer updates the policy's own tensors.
  std::vector<torch::Tensor> opt;
  for (auto& g : learner.optimizer().param_groups())
    for (auto& p : g.params()) opt.push_back(p);
  const std::vector<torch::Tensor> params = policy->parameters();
  ASSERT_EQ(opt.size(), params.size());
  for (const torch::Tensor& p : params) {
    bool found = false;
    for (const torch::Tensor& o : opt) found = found || o.is_same(p);
    EXPECT_TRUE(found);
  }
}

TEST(MasterWeights, SiameseUpdateReadsTensors) {
  CausalLM siamese = make_random_model(tiny_learner_config(), /*seed=*/2);
  std::vector<torch::Tensor> theta;
  for (const torch::Tensor& p : siamese->parameters()) theta.push_back(torch::randn_like(p));
  const std::vector<torch::Tensor> xi0 = clones(siamese->parameters());
  ema_update(*siamese, theta, /*tau=*/0.75);
  const std::vector<torch::Tensor> xi = siamese->parameters();
  for (size_t i = 0; i < xi.size(); ++i)
    EXPECT_TRUE(torch::allclose(xi[i], 0.75 * xi0[i] + 0.25 * theta[i], 1e-6, 1e-7)) << i;
  theta.pop_back();
  EXPECT_THROW(ema_update(*siamese, theta, 0.5), popo::Error);
}

TEST(MasterWeights, CheckpointKeepsMasters) {
  CausalLM policy = make_random_model(tiny_learner_config(), /*seed=*/1);
  policy->to(torch::kBFloat16);
  Learner learner(policy, nullptr, raft(), small_lr(), LearnerConfig{});
  RolloutBatch batch = tiny_batch();
  torch::Tensor rewards = tiny_rewards();
  learner.step(batch, rewards, learner.coefficients(batch, rewards));
  const std::vector<torch::Tensor> saved = clones(learner.master_weights());
  // Precision the bf16 weights alone do not carry.
  double lost = 0;
  for (size_t i = 0; i < saved.size(); ++i)
    lost += (saved[i] - saved[i].to(torch::kBFloat16).to(torch::kFloat)).abs().sum().item<double>();
  EXPECT_GT(lost, 0);

  const std::string dir = test::scratch_dir("master_weights");
  CheckpointParts parts;
  parts.policy = &policy;
  parts.optimizer = &learner.optimizer();
  parts.masters = learner.master_weights();
  parts.mastered = learner.mastered_parameters();
  TrainerState state;
  state.step = 1;
  const std::string ck = save_checkpoint(dir, parts, state, /*keep_last=*/1);

  // A fresh learner (masters = the initial weights) resumes with the saved masters.
  CausalLM policy2 = make_random_model(tiny_learner_config(), /*seed=*/3);
  policy2->to(torch::kBFloat16);
  Learner learner2(policy2, nullptr, raft(), small_lr(), LearnerConfig{});
  CheckpointParts parts2;
  parts2.policy = &policy2;
  parts2.optimizer = &learner2.optimizer();
  parts2.masters = learner2.master_weights();
  parts2.mastered = learner2.mastered_parameters();
  load_checkpoint(ck, parts2);
  const std::vector<torch::Tensor> got = learner2.master_weights();
  ASSERT_EQ(got.size(), saved.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(torch::equal(got[i], saved[i])) << i;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace popo
