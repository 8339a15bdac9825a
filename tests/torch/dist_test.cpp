// Tests for src/dist: the torchrun env parsing, the local launcher, and 2-rank Gloo collectives
// on 127.0.0.1. A multi-rank test re-executes this test binary as N ranks with
// --gtest_filter=DistChild.<name> and POPO_DIST_CHILD=1; DistChild bodies skip unless that is
// set. Independent expectations: sums computed by hand from the rank-seeded inputs, and the
// full-batch gradient of one process holding all ranks' data.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "dist/dist.h"
#include "dist/launch.h"

namespace popo {
namespace {

constexpr int kChildOk = 42;  // exit code of a child that saw the expected failure

bool is_child() { return std::getenv("POPO_DIST_CHILD") != nullptr; }

#define DIST_CHILD_ONLY() \
  if (!is_child()) GTEST_SKIP() << "runs only as a rank spawned by a Dist test"

// Runs DistChild.<name> as `nproc` ranks of this binary with POPO_DIST_TIMEOUT=timeout_s.
LaunchResult run_ranks(const std::string& name, int nproc, int timeout_s,
                       bool kill_on_failure = true, double wall_limit_s = 28) {
  LaunchOptions opts;
  opts.nproc = nproc;
  opts.kill_on_failure = kill_on_failure;
  opts.timeout_s = wall_limit_s;
  opts.extra_env = {{"POPO_DIST_CHILD", "1"}, {"POPO_DIST_TIMEOUT", std::to_string(timeout_s)}};
  return launch_ranks({self_executable(), "--gtest_filter=DistChild." + name, "--gtest_brief=1"},
                      opts);
}

std::shared_ptr<Dist> child_dist() {
  return Dist::create(dist_config_from_env(), c10::Device(c10::kCPU));
}

// ---- dist_config_from_env ----------------------------------------------------------------------

const char* const kVars[] = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT",
                             "POPO_DIST_TIMEOUT", "POPO_DIST_BACKEND"};

// Sets exactly the given variables (others of kVars unset) for the scope; restores on exit.
class EnvScope {
 public:
  explicit EnvScope(const std::vector<std::pair<std::string, std::string>>& vars) {
    for (const char* k : kVars) {
      const char* v = std::getenv(k);
      if (v) saved_.emplace_back(k, v);
      ::unsetenv(k);
    }
    for (const auto& [k, v] : vars) ::setenv(k.c_str(), v.c_str(), 1);
  }
  ~EnvScope() {
    for (const char* k : kVars) ::unsetenv(k);
    for (const auto& [k, v] : saved_) ::setenv(k.c_str(), v.c_str(), 1);
  }

 private:
  std::vector<std::pair<std::string, std::string>> saved_;
};

TEST(DistConfig, ParsesTorchrunVariables) {
  struct Case {
    std::vector<std::pair<std::string, std::string>> env;
    int rank, world, local, port, timeout;
    std::string addr;
  };
  const Case cases[] = {
      {{}, 0, 1, 0, 29500, 300, "127.0.0.1"},
      {{{"RANK", "3"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "10.0.0.2"},
        {"MASTER_PORT", "1234"}, {"POPO_DIST_TIMEOUT", "7"}},
       3, 4, 1, 1234, 7, "10.0.0.2"},
      {{{"RANK", "1"}, {"WORLD_SIZE", "2"}}, 1, 2, 1, 29500, 300, "127.0.0.1"},
  };
  for (const auto& c : cases) {
    EnvScope scope(c.env);
    DistConfig cfg = dist_config_from_env();
    EXPECT_EQ(cfg.rank, c.rank);
    EXPECT_EQ(cfg.world_size, c.world);
    EXPECT_EQ(cfg.local_rank, c.local);
    EXPECT_EQ(cfg.master_port, c.port);
    EXPECT_EQ(cfg.timeout_s, c.timeout);
    EXPECT_EQ(cfg.master_addr, c.addr);
  }
}

TEST(DistConfig, MalformedValuesNameTheVariable) {
  struct Case {
    std::vector<std::pair<std::string, std::string>> env;
    std::string named;
  };
  const Case cases[] = {
      {{{"WORLD_SIZE", "two"}}, "WORLD_SIZE"},
      {{{"WORLD_SIZE", "0"}}, "WORLD_SIZE"},
      {{{"WORLD_SIZE", "2"}, {"RANK", "2"}}, "RANK"},
      {{{"WORLD_SIZE", "2"}, {"RANK", "-1"}}, "RANK"},
      {{{"WORLD_SIZE", "2"}, {"RANK", "1x"}}, "RANK"},
      {{{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"LOCAL_RANK", "1"}}, "LOCAL_RANK"},
      {{{"MASTER_PORT", "70000"}}, "MASTER_PORT"},
      {{{"MASTER_PORT", "80a"}}, "MASTER_PORT"},
      {{{"POPO_DIST_TIMEOUT", "0"}}, "POPO_DIST_TIMEOUT"},
      {{{"POPO_DIST_BACKEND", "mpi"}}, "POPO_DIST_BACKEND"},
  };
  for (const auto& c : cases) {
    EnvScope scope(c.env);
    try {
      dist_config_from_env();
      ADD_FAILURE() << "no error for " << c.named;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.named), std::string::npos) << e.what();
    }
  }
}

TEST(Dist, WorldSizeOneIsANoOp) {
  auto dist = Dist::create(DistConfig{}, c10::Device(c10::kCPU));
  EXPECT_EQ(dist->world_size(), 1);
  EXPECT_TRUE(dist->is_main());
  EXPECT_EQ(dist->backend(), "none");
  std::vector<at::Tensor> ts{torch::arange(3, torch::kFloat32)};
  dist->all_reduce_sum(ts);
  EXPECT_TRUE(torch::equal(ts[0], torch::arange(3, torch::kFloat32)));
  EXPECT_EQ(dist->all_reduce_sum(2.5), 2.5);
  dist->barrier();
}

TEST(Dist, MissingRankFailsTheRendezvousWithinTheTimeout) {
  DistConfig cfg;
  cfg.world_size = 2;
  cfg.master_port = pick_free_port();
  cfg.timeout_s = 2;
  const auto t0 = std::chrono::steady_clock::now();
  try {
    Dist::create(cfg, c10::Device(c10::kCPU));
    ADD_FAILURE() << "rendezvous succeeded without rank 1";
  } catch (const Error& e) {
    std::fprintf(stderr, "rank 0 got: %s\n", e.what());
    // The code's own timeout fired and says so: the structural check.
    EXPECT_NE(std::string(e.what()).find("rendezvous"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("timeout 2 s"), std::string::npos) << e.what();
  }
  // A backstop against a hang only: on a loaded machine a tight bound measures the load.
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(secs, 60.0);
}

// ---- launcher ----------------------------------------------------------------------------------

// Runs fn with stdout redirected into a file; returns what was written.
template <class Fn>
std::string capture_stdout(Fn fn) {
  auto path = std::filesystem::temp_directory_path() /
              ("popo_launch_out_" + std::to_string(::getpid()) + ".txt");
  std::fflush(stdout);
  int saved = ::dup(STDOUT_FILENO);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ::dup2(fd, STDOUT_FILENO);
  ::close(fd);
  fn();
  std::fflush(stdout);
  ::dup2(saved, STDOUT_FILENO);
  ::close(saved);
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::filesystem::remove(path);
  return ss.str();
}

TEST(Launch, RunsRanksWithTorchrunVariablesAndPrefixedOutput) {
  int code = -1;
  std::string out = capture_stdout([&] {
    code = launch_local(2, {"sh", "-c",
                            "echo \"hello $RANK of $WORLD_SIZE local $LOCAL_RANK at "
                            "$MASTER_ADDR\"; test \"$MASTER_PORT\" -gt 0"});
  });
  EXPECT_EQ(code, 0);
  EXPECT_NE(out.find("[rank 0] hello 0 of 2 local 0 at 127.0.0.1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("[rank 1] hello 1 of 2 local 1 at 127.0.0.1\n"), std::string::npos) << out;
}

TEST(Launch, FirstFailureStopsTheOthersAndIsReturned) {
  const auto t0 = std::chrono::steady_clock::now();
  int code = launch_local(2, {"sh", "-c", "if [ \"$RANK\" = 1 ]; then exit 7; fi; sleep 30"});
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(code, 7);
  EXPECT_LT(secs, 25.0) << "rank 0's `sleep 30` was not stopped";  // below the 30 s it would take
}

TEST(Launch, ReportsEachRankAndExecFailure) {
  LaunchOptions opts;
  opts.nproc = 3;
  opts.kill_on_failure = false;
  LaunchResult r = launch_ranks({"sh", "-c", "exit $((RANK + 0))"}, opts);
  EXPECT_EQ(r.rank_codes, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(r.first_failed_rank >= 1, true);
  EXPECT_EQ(r.exit_code, r.rank_codes[r.first_failed_rank]);
  opts.nproc = 1;
  EXPECT_EQ(launch_ranks({"/nonexistent/popo_no_such_binary"}, opts).exit_code, 127);
}

// ---- 2-rank collectives --------------------------------------------------------------------------

TEST(DistChild, AllReduceBroadcastBarrier) {
  DIST_CHILD_ONLY();
  auto dist = child_dist();
  ASSERT_EQ(dist->world_size(), 2);
  ASSERT_EQ(dist->backend(), "gloo");
  const double r = dist->rank();
  std::vector<at::Tensor> ts{
      torch::full({3}, r + 1, torch::kFloat32),                         // sum 1 + 2 = 3
      torch::full({2, 2}, 10 * (r + 1), torch::kFloat64),               // 10 + 20 = 30
      torch::full({5}, static_cast<int64_t>(r) + 100, torch::kInt64),   // 100 + 101 = 201
      torch::full({4}, r + 0.5, torch::kBFloat16),                      // 0.5 + 1.5 = 2
      torch::arange(6, torch::kFloat32).view({2, 3}).t(),               // non-contiguous: doubled
  };
  dist->all_reduce_sum(ts);
  EXPECT_TRUE(torch::equal(ts[0], torch::full({3}, 3.0, torch::kFloat32)));
  EXPECT_TRUE(torch::equal(ts[1], torch::full({2, 2}, 30.0, torch::kFloat64)));
  EXPECT_TRUE(torch::equal(ts[2], torch::full({5}, 201, torch::kInt64)));
  EXPECT_TRUE(torch::equal(ts[3], torch::full({4}, 2.0, torch::kBFloat16)));
  EXPECT_TRUE(torch::equal(ts[4], 2 * torch::arange(6, torch::kFloat32).view({2, 3}).t()));
  EXPECT_DOUBLE_EQ(dist->all_reduce_sum(r + 0.25), 0.25 + 1.25);

  std::vector<at::Tensor> bs{torch::full({3}, r, torch::kFloat32), torch::full({1}, 7 * r)};
  dist->broadcast(bs, /*root=*/1);
  EXPECT_TRUE(torch::equal(bs[0], torch::full({3}, 1.0, torch::kFloat32)));
  EXPECT_TRUE(torch::equal(bs[1], torch::full({1}, 7.0)));
  dist->barrier();
}

TEST(Dist, TwoRanksAllReduceBroadcastBarrier) {
  LaunchResult r = run_ranks("AllReduceBroadcastBarrier", 2, /*timeout_s=*/10);
  EXPECT_EQ(r.rank_codes, (std::vector<int>{0, 0}));
}

// A 2-layer MLP built identically on every rank (same seed).
torch::nn::Sequential make_mlp() {
  torch::manual_seed(0);
  return torch::nn::Sequential(torch::nn::Linear(4, 8), torch::nn::Tanh(),
                               torch::nn::Linear(8, 3));
}
// Returns the full batch: 8 rows; rank r of 2 owns rows [4r, 4r + 4).
std::pair<at::Tensor, at::Tensor> full_batch() {
  torch::manual_seed(1);
  return {torch::randn({8, 4}), torch::randn({8, 3})};
}
std::vector<at::Tensor> grads_of(torch::nn::Sequential& m) {
  std::vector<at::Tensor> g;
  for (auto& p : m->parameters()) g.push_back(p.grad().clone());
  return g;
}
void expect_close(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_LE((a[i] - b[i]).abs().max().item<double>(), 1e-6) << "parameter " << i;
  }
}

TEST(DistChild, GradientsMatchFullBatch) {
  DIST_CHILD_ONLY();
  auto dist = child_dist();
  const int64_t rank = dist->rank();
  auto [x, y] = full_batch();

  // Reference: one process, full batch, mean squared error over all 8 rows.
  auto ref = make_mlp();
  torch::mse_loss(ref->forward(x), y).backward();
  const auto want = grads_of(ref);

  // (a) all_reduce_gradients, average of the local means (equal shards), several buckets.
  auto m = make_mlp();
  torch::mse_loss(m->forward(x.narrow(0, 4 * rank, 4)), y.narrow(0, 4 * rank, 4)).backward();
  dist->all_reduce_gradients(m->parameters(), /*average=*/true, /*bucket_mb=*/1e-4);
  expect_close(grads_of(m), want);

  // (b) 2 local micro-batches accumulated into .grad, losses scaled by the global element
  // count, then summed over ranks (average=false): the learner's scheme.
  auto o = make_mlp();
  const double global_elems = 8 * 3;
  for (int micro = 0; micro < 2; ++micro) {
    auto xs = x.narrow(0, 4 * rank + 2 * micro, 2), ys = y.narrow(0, 4 * rank + 2 * micro, 2);
    (torch::mse_loss(o->forward(xs), ys, torch::Reduction::Sum) / global_elems).backward();
  }
  dist->all_reduce_gradients(o->parameters(), /*average=*/false, /*bucket_mb=*/1e-4);
  expect_close(grads_of(o), want);
}

TEST(Dist, TwoRanksGradientsMatchFullBatch) {
  LaunchResult r = run_ranks("GradientsMatchFullBatch", 2, /*timeout_s=*/10);
  EXPECT_EQ(r.rank_codes, (std::vector<int>{0, 0}));
}

TEST(DistChild, RankWithoutGradientForAParameter) {
  DIST_CHILD_ONLY();
  auto dist = child_dist();
  const int64_t rank = dist->rank();
  // Two heads on a shared trunk; rank 0 trains both heads, rank 1 only head a.
  torch::manual_seed(0);
  auto trunk = torch::nn::Linear(4, 6);
  auto head_a = torch::nn::Linear(6, 1);
  auto head_b = torch::nn::Linear(6, 1);
  auto params = [&] {
    std::vector<at::Tensor> p = trunk->parameters();
    for (auto& t : head_a->parameters()) p.push_back(t);
    for (auto& t : head_b->parameters()) p.push_back(t);
    return p;
  };
  auto loss_of = [&](int64_t r) {
    torch::manual_seed(10 + r);
    at::Tensor h = torch::tanh(trunk->forward(torch::randn({3, 4})));
    at::Tensor loss = head_a->forward(h).pow(2).sum();
    if (r == 0) loss = loss + head_b->forward(h).sin().sum();
    return loss;
  };
  // Reference in this process: the gradient of loss_0 + loss_1.
  (loss_of(0) + loss_of(1)).backward();
  std::vector<at::Tensor> want;
  for (auto& p : params()) {
    want.push_back(p.grad().clone());
    p.mutable_grad() = at::Tensor();
  }
  for (auto& p : params()) p.mutable_grad() = at::Tensor();
  loss_of(rank).backward();
  if (rank == 1) {
    EXPECT_FALSE(head_b->weight.grad().defined());
  }
  dist->all_reduce_gradients(params(), /*average=*/false, /*bucket_mb=*/1e-5);
  std::vector<at::Tensor> got;
  for (auto& p : params()) {
    ASSERT_TRUE(p.grad().defined());
    got.push_back(p.grad());
  }
  expect_close(got, want);
}

TEST(Dist, TwoRanksRankWithoutGradientForAParameter) {
  LaunchResult r = run_ranks("RankWithoutGradientForAParameter", 2, /*timeout_s=*/10);
  EXPECT_EQ(r.rank_codes, (std::vector<int>{0, 0}));
}

// ---- failures: a dead or silent peer makes the survivor fail with a clear error ------------------

// Rank 0 keeps all-reducing; exits with kChildOk if it gets a popo::Error naming rank 1 and the
// timeout (3 s): the message is written by the code whose timeout fired, so it is the structural
// proof that the deadline worked. The wall-clock bound is only a backstop against a hang
// (60 s: on a loaded 2-core machine, a tight bound measures the load, not the code). Rank 1 runs
// `misbehave` after one good collective.
template <class Fn>
void survivor_or_misbehave(Fn misbehave) {
  auto dist = child_dist();
  std::vector<at::Tensor> ts{torch::ones({1000})};
  dist->all_reduce_sum(ts);
  if (dist->rank() == 1) misbehave();
  const auto t0 = std::chrono::steady_clock::now();
  try {
    for (int i = 0; i < 1000; ++i) dist->all_reduce_sum(ts);
  } catch (const Error& e) {
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::string msg = e.what();
    std::fprintf(stderr, "survivor got after %.1f s: %s\n", secs, msg.c_str());
    bool named = msg.find("rank 1") != std::string::npos &&
                 msg.find("within 3 s") != std::string::npos;
    // A later call fails at once with the same cause.
    bool sticky = false;
    try {
      dist->barrier();
    } catch (const Error& e2) {
      sticky = std::string(e2.what()).find("unusable") != std::string::npos;
    }
    dist.reset();  // destroying a failed group must not hang
    std::fflush(stderr);
    std::_Exit(named && sticky && secs < 60.0 ? kChildOk : 1);
  }
  ADD_FAILURE() << "no error although rank 1 stopped";
}

TEST(DistChild, PeerDies) {
  DIST_CHILD_ONLY();
  survivor_or_misbehave([] { std::_Exit(3); });
}

TEST(DistChild, PeerHangs) {
  DIST_CHILD_ONLY();
  survivor_or_misbehave([] { std::this_thread::sleep_for(std::chrono::seconds(60)); });
}

TEST(Dist, DeadPeerMakesTheSurvivorFailWithinTheTimeout) {
  LaunchResult r = run_ranks("PeerDies", 2, /*timeout_s=*/3, /*kill_on_failure=*/false);
  EXPECT_EQ(r.rank_codes, (std::vector<int>{kChildOk, 3}));
}

TEST(Dist, HangingPeerMakesTheSurvivorFailWithinTheTimeout) {
  // The launcher stops the hanging rank once the survivor has failed.
  LaunchResult r = run_ranks("PeerHangs", 2, /*timeout_s=*/3, /*kill_on_failure=*/true);
  EXPECT_EQ(r.first_failed_rank, 0);
  EXPECT_EQ(r.exit_code, kChildOk);
}

}  // namespace
}  // namespace popo
