// ZeroOptimizer (train/zero.h) on 1, 2 and 3 Gloo ranks against torch's own AdamW and
// clip_grad_norm_ on one process holding the sum of every rank's gradients. The tensors are
// chosen so that their count (1023 elements) divides by neither 2 nor 3 and so that with 3 ranks
// the middle rank's slice lies inside one tensor (it holds no whole tensor); rank r runs r + 1
// micro-batches (stage 2 aligns the counts). A multi-rank test re-executes this binary as ranks
// (--gtest_filter=ZeroChild.*, POPO_DIST_CHILD=1), as tests/torch/dist_test.cpp does.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <cstdio>
#include <unistd.h>

#include "dist/dist.h"
#include "dist/launch.h"
#include "model/safetensors.h"
#include "train/zero.h"

namespace popo {
namespace {

bool is_child() { return std::getenv("POPO_DIST_CHILD") != nullptr; }

// The trained tensors: a policy of a small matrix, a bias, a 1000-element matrix and a vector;
// a "predictor" of one matrix (the last 3 x 3 + 2 elements), 1023 elements in all.
std::vector<torch::Tensor> make_params() {
  torch::manual_seed(11);
  return {torch::randn({2, 3}), torch::randn({5}), torch::randn({40, 25}), torch::randn({1}),
          torch::randn({3, 3}), torch::randn({2})};
}
constexpr size_t kPolicy = 4;  // the first four are the policy's

std::vector<bool> decay_flags(const std::vector<torch::Tensor>& ps) {
  std::vector<bool> d;
  for (size_t i = 0; i < ps.size(); ++i) d.push_back(ps[i].dim() >= 2 || i >= kPolicy);
  return d;
}

// The gradient rank r adds in micro-batch m of step s (the same on every process).
std::vector<torch::Tensor> grads_of(const std::vector<torch::Tensor>& ps, int r, int m, int s) {
  torch::manual_seed(1000 * s + 10 * r + m);
  std::vector<torch::Tensor> g;
  for (const auto& p : ps) g.push_back(torch::randn_like(p) * (0.5 + r));
  return g;
}

OptimConfig optim() {
  OptimConfig o;
  o.lr = 0.05;
  o.weight_decay = 0.1;
  o.grad_clip = 1.0;  // the summed gradients are far larger: clipping acts
  return o;
}

// Runs 3 steps of the sharded optimizer on this rank and checks it against torch on the summed
// gradients, the siamese EMA against its own formula, and a state round trip through one rank.
void check_against_torch(std::shared_ptr<Dist> dist, int stage) {
  const int W = dist ? dist->world_size() : 1, rank = dist ? dist->rank() : 0;
  std::vector<torch::Tensor> ps = make_params(), ref = make_params();
  std::vector<torch::Tensor> siamese, ref_siamese;
  for (size_t i = 0; i < kPolicy; ++i) {
    siamese.push_back(ps[i].clone());
    ref_siamese.push_back(ps[i].clone());
  }
  for (auto& p : ps) p.set_requires_grad(true);
  for (auto& p : ref) p.set_requires_grad(true);
  ZeroOptimizer zero(ps, decay_flags(ps), kPolicy, siamese, optim(), stage, dist, /*bucket_mb=*/1e-3);
  EXPECT_EQ(zero.total(), 1023);
  EXPECT_EQ(zero.slice(), (1023 + W - 1) / W);

  std::vector<torch::Tensor> decay, no_decay;
  for (size_t i = 0; i < ref.size(); ++i) (decay_flags(ref)[i] ? decay : no_decay).push_back(ref[i]);
  torch::optim::AdamW adam({torch::optim::OptimizerParamGroup(decay, std::make_unique<torch::optim::AdamWOptions>(
                                torch::optim::AdamWOptions(0.05).weight_decay(0.1))),
                            torch::optim::OptimizerParamGroup(no_decay, std::make_unique<torch::optim::AdamWOptions>(
                                torch::optim::AdamWOptions(0.05).weight_decay(0.0)))});
  const double tau = 0.7;
  for (int s = 0; s < 3; ++s) {
    // This rank's micro-batches: rank r runs r + 1 (stage 2 pads the others with empty rounds).
    const int mine = rank + 1;
    const int rounds = int(zero.max_over_ranks(mine));
    EXPECT_EQ(rounds, W);
    for (int m = 0; m < rounds; ++m) {
      if (m < mine) {
        const auto g = grads_of(ps, rank, m, s);
        for (size_t i = 0; i < ps.size(); ++i) ps[i].mutable_grad() = g[i].clone();
      }
      zero.accumulate();
    }
    zero.finish_gradients();
    const auto [norm, pred_norm] = zero.grad_norms();

    // Reference: the sum over every rank's micro-batches, clipped (policy only), AdamW.
    for (size_t i = 0; i < ref.size(); ++i) ref[i].mutable_grad() = torch::zeros_like(ref[i]);
    for (int r = 0; r < W; ++r)
      for (int m = 0; m <= r; ++m) {
        const auto g = grads_of(ref, r, m, s);
        for (size_t i = 0; i < ref.size(); ++i) ref[i].mutable_grad().add_(g[i]);
      }
    std::vector<torch::Tensor> policy(ref.begin(), ref.begin() + kPolicy);
    double pred_sq = 0;
    for (size_t i = kPolicy; i < ref.size(); ++i) pred_sq += ref[i].grad().pow(2).sum().item<double>();
    const double want_norm = torch::nn::utils::clip_grad_norm_(policy, 1.0);
    EXPECT_NEAR(norm, want_norm, 1e-4 * want_norm) << "step " << s;
    EXPECT_NEAR(pred_norm, std::sqrt(pred_sq), 1e-4 * std::sqrt(pred_sq)) << "step " << s;
    ASSERT_GT(norm, 1.0) << "clipping must act in this test";
    zero.scale_policy_grad(1.0 / (norm + 1e-6));
    adam.step();
    zero.step(0.05);
    for (size_t i = 0; i < ps.size(); ++i)
      EXPECT_LE((ps[i] - ref[i]).abs().max().item<double>(), 1e-5) << "rank " << rank << " tensor " << i << " step " << s;

    zero.siamese_ema(tau);
    for (size_t i = 0; i < kPolicy; ++i) {
      torch::NoGradGuard g;
      ref_siamese[i].mul_(tau).add_(ref[i].detach(), 1 - tau);
      EXPECT_LE((siamese[i] - ref_siamese[i]).abs().max().item<double>(), 1e-5) << "siamese " << i;
    }
  }
  // The state written by rank 0 (every rank streaming its slices), read back by one process
  // and by every rank: the same values, each rank's slice its own.
  const std::string file = std::string(std::getenv("POPO_ZERO_STATE_FILE") ? std::getenv("POPO_ZERO_STATE_FILE")
                                                                            : "/tmp/popo_zero_test_state_solo") +
                           ".safetensors";
  zero.write_state(rank == 0 ? file : "");
  if (dist) dist->barrier();
  const auto saved = read_safetensors(file);
  EXPECT_EQ(saved.at("master").numel(), 1023);
  EXPECT_EQ(saved.at("siamese_master").numel(), 6 + 5 + 1000 + 1);
  EXPECT_EQ(saved.at("adam_steps").item<int64_t>(), 3);
  // The saved masters are the parameters' fp32 values (fp32 parameters: equal).
  std::vector<torch::Tensor> flat;
  for (const auto& p : ps) flat.push_back(p.detach().reshape({-1}));
  EXPECT_TRUE(torch::equal(saved.at("master"), torch::cat(flat)));
  std::vector<torch::Tensor> solo = make_params();
  for (auto& p : solo) p.set_requires_grad(true);
  ZeroOptimizer one(solo, decay_flags(solo), kPolicy, {}, optim(), 1, nullptr);
  one.load_state(file);
  EXPECT_EQ(one.adam_steps(), 3);
  const std::string again = file + ".again" + std::to_string(rank);
  one.write_state(again);
  const auto back = read_safetensors(again);
  for (const char* k : {"master", "exp_avg", "exp_avg_sq"}) EXPECT_TRUE(torch::equal(back.at(k), saved.at(k))) << k;
  ZeroOptimizer same(ps, decay_flags(ps), kPolicy, siamese, optim(), stage, dist);
  same.load_state(file);  // every rank its own slice
  EXPECT_EQ(same.adam_steps(), 3);
  if (dist) dist->barrier();
  std::remove(again.c_str());
}

TEST(Zero, OneProcessMatchesTorchAdamW) {
  for (int stage : {1, 2}) {
    SCOPED_TRACE(stage);
    check_against_torch(nullptr, stage);
  }
}

TEST(Zero, TwoAndThreeRanksMatchTorchAdamWOnTheSummedGradients) {
  for (const int nproc : {2, 3}) {
    for (const int stage : {1, 2}) {
      LaunchOptions opts;
      opts.nproc = nproc;
      opts.kill_on_failure = true;
      opts.timeout_s = 60;
      opts.extra_env = {{"POPO_DIST_CHILD", "1"}, {"POPO_DIST_TIMEOUT", "20"}, {"POPO_ZERO_STAGE", std::to_string(stage)},
                        {"POPO_ZERO_STATE_FILE", testing::TempDir() + "popo_zero_test_state_" + std::to_string(::getpid()) +
                                                     "_" + std::to_string(nproc) + "_" + std::to_string(stage)}};
      const LaunchResult r =
          launch_ranks({self_executable(), "--gtest_filter=ZeroChild.MatchTorch", "--gtest_brief=1"}, opts);
      EXPECT_EQ(r.exit_code, 0) << nproc << " ranks, stage " << stage << ": rank " << r.first_failed_rank << " failed";
    }
  }
}

TEST(ZeroChild, MatchTorch) {
  if (!is_child()) GTEST_SKIP() << "runs only as a rank spawned by Zero.TwoAndThreeRanksMatchTorchAdamWOnTheSummedGradients";
  auto dist = Dist::create(dist_config_from_env(), c10::Device(c10::kCPU));
  check_against_torch(dist, std::atoi(std::getenv("POPO_ZERO_STAGE")));
}

}  // namespace
}  // namespace popo
