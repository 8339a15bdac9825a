// bench_zero: what dist.zero_stage saves per rank. For stage 0, 1 and 2 at 1, 2 and 4 ranks (Gloo
// on this machine's cores), each rank runs POPO steps of a random-weight model on its own
// rollouts and reports the bytes of each kind of state it holds (Learner::state_bytes(), measured
// from its tensors), its peak resident memory (VmHWM) and the step time; one table, stage 0 of
// the same world size as the baseline of each row. Each configuration is a fresh set of
// processes (this binary re-executed as ranks), so the peaks are their own.
// Usage: bench_zero [--shape mid] [--dtype bfloat16|float32] [--ranks 1,2,4] [--steps 2]
//          [--prompts 1] [--group 4] [--prompt-len 32] [--response-len 64]
#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "core/io.h"
#include "dist/dist.h"
#include "dist/launch.h"
#include "model/dtype.h"
#include "model/memory.h"
#include "train/data_parallel.h"
#include "train/learner.h"
#include "train/zero.h"

namespace {

using namespace popo;
using bench::Clock;
using bench::seconds_since;

// One rank of one configuration: writes its row to <out>.<rank>.
int run_rank(const bench::Args& args) {
  torch::set_num_threads(1);
  std::shared_ptr<Dist> dist;
  if (std::getenv("WORLD_SIZE") && std::atoi(std::getenv("WORLD_SIZE")) > 1)
    dist = Dist::create(dist_config_from_env(), c10::Device(c10::kCPU));
  const int rank = dist ? dist->rank() : 0, world = dist ? dist->world_size() : 1;
  const ModelConfig cfg = bench::shape_config(args.get("shape", "mid"));
  const c10::ScalarType dtype = parse_dtype(args.get("dtype", "bfloat16"));
  const int stage = int(args.get_int("stage", 0));
  const int64_t prompts = args.get_int("prompts", 1), group = args.get_int("group", 4);
  const int64_t P = args.get_int("prompt-len", 32), R = args.get_int("response-len", 64);
  const int64_t steps = args.get_int("steps", 2);
  const c10::Device dev(c10::kCPU);
  reset_peak_memory(dev);
  CausalLM policy = bench::random_model(cfg, dev, dtype, 1);
  CausalLM siamese = bench::random_model(cfg, dev, dtype, 1);
  for (const at::Tensor& t : siamese->parameters()) t.set_requires_grad(false);
  AlgoConfig algo;
  algo.name = Algorithm::kPopo;
  algo.popo.kl_every = 0;
  torch::manual_seed(2);
  Predictor predictor(cfg.hidden_size, 256, 2);
  OptimConfig optim;
  optim.lr = 1e-5;
  optim.steps = 100;
  LearnerConfig lc;
  lc.update.micro_batch_size = 2;
  lc.zero_stage = stage;
  Learner learner(policy, predictor, algo, optim, lc, siamese);
  if (dist) attach_data_parallel(learner, dist);
  if (stage >= 1) learner.shard_optimizer(dist);
  const RolloutBatch batch = bench::random_rollouts(prompts, group, P, R, cfg.vocab_size, 7 + uint64_t(rank));
  const torch::Tensor rewards = (torch::arange(prompts * group) % 2 == 0).to(torch::kFloat);
  double t = 0;
  for (int64_t s = 0; s <= steps; ++s) {  // one warm-up
    if (dist) dist->barrier();
    auto t0 = Clock::now();
    learner.step(batch, rewards, learner.coefficients(batch, rewards));
    if (s > 0) t += seconds_since(t0) / double(steps);
  }
  const Learner::StateBytes b = learner.state_bytes();
  const double peak_training = double(memory_stats(dev).peak_bytes);
  // What a checkpoint costs on top: rank 0 streams the sharded state into a file
  // (ZeroOptimizer::write_state, the others broadcast their slices); stage 0 holds it whole.
  if (ZeroOptimizer* z = learner.zero()) {
    const std::string file = args.get("out", "/tmp/bench_zero") + ".state";
    z->write_state(rank == 0 ? file : "");
    std::remove(file.c_str());
  }
  const double peak_checkpoint = double(memory_stats(dev).peak_bytes);
  const nlohmann::json row = {{"stage", stage}, {"world", world}, {"rank", rank},
                              {"param", b.param}, {"grad", b.grad}, {"optimizer_state", b.optimizer_state},
                              {"master", b.master}, {"siamese", b.siamese}, {"step_s", t},
                              {"peak_rss", peak_training}, {"peak_rss_checkpoint", peak_checkpoint},
                              {"params", cfg.num_parameters()}};
  write_file_atomic(args.get("out", "/tmp/bench_zero") + "." + std::to_string(rank), row.dump());
  return 0;
}

std::string gb(double b) {
  char s[32];
  std::snprintf(s, sizeof s, "%.1f", b / 1e6);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    bench::Args args(argc, argv);
    if (args.has("child")) return run_rank(args);
    std::vector<int> ranks;
    std::stringstream ss(args.get("ranks", "1,2,4"));
    for (std::string part; std::getline(ss, part, ',');) ranks.push_back(std::stoi(part));
    const std::string out = "/tmp/bench_zero_" + std::to_string(::getpid());
    std::printf("bench_zero: shape %s, %s, POPO (siamese, predictor 256), per rank %lld x (%lld + %lld) tokens, "
                "%lld timed steps; MB per rank (max over ranks), step time against stage 0 of the same world size\n\n",
                args.get("shape", "mid").c_str(), args.get("dtype", "bfloat16").c_str(),
                static_cast<long long>(args.get_int("prompts", 1) * args.get_int("group", 4)),
                static_cast<long long>(args.get_int("prompt-len", 32)),
                static_cast<long long>(args.get_int("response-len", 64)), static_cast<long long>(args.get_int("steps", 2)));
    std::printf("| ranks | stage | params MB | grads MB | AdamW moments MB | fp32 masters MB | siamese MB | sum of state MB | peak RSS MB | peak RSS with a checkpoint MB | step s | vs stage 0 |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int w : ranks) {
      double base_step = 0;
      for (int stage : {0, 1, 2}) {
        std::vector<std::string> cmd = {self_executable(), "--child", "--stage", std::to_string(stage), "--out", out};
        for (const auto& [k, v] : args.kv) {
          if (k == "ranks") continue;
          cmd.push_back("--" + k);
          cmd.push_back(v);
        }
        LaunchOptions opts;
        opts.nproc = w;
        opts.kill_on_failure = true;
        opts.timeout_s = 1200;
        opts.extra_env = {{"OMP_NUM_THREADS", "1"}, {"OPENBLAS_NUM_THREADS", "1"}};
        const LaunchResult r = launch_ranks(cmd, opts);
        POPO_CHECK(r.exit_code == 0, "bench_zero: ", w, " ranks at stage ", stage, " failed (rank ",
                   r.first_failed_rank, ")");
        nlohmann::json worst = {{"param", 0.0}, {"grad", 0.0}, {"optimizer_state", 0.0}, {"master", 0.0},
                                {"siamese", 0.0}, {"peak_rss", 0.0}, {"peak_rss_checkpoint", 0.0}, {"step_s", 0.0}};
        double worst_sum = 0;
        for (int k = 0; k < w; ++k) {
          const nlohmann::json j = nlohmann::json::parse(read_file(out + "." + std::to_string(k)));
          double sum = 0;
          for (const char* f : {"param", "grad", "optimizer_state", "master", "siamese"}) sum += j[f].get<double>();
          worst_sum = std::max(worst_sum, sum);
          for (auto it = worst.begin(); it != worst.end(); ++it)
            it.value() = std::max(it.value().get<double>(), j[it.key()].get<double>());
        }
        if (stage == 0) base_step = worst["step_s"].get<double>();
        std::printf("| %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %.2f | %.2fx |\n", w, stage,
                    gb(worst["param"]).c_str(), gb(worst["grad"]).c_str(), gb(worst["optimizer_state"]).c_str(),
                    gb(worst["master"]).c_str(), gb(worst["siamese"]).c_str(), gb(worst_sum).c_str(),
                    gb(worst["peak_rss"]).c_str(), gb(worst["peak_rss_checkpoint"]).c_str(), worst["step_s"].get<double>(),
                    worst["step_s"].get<double>() / base_step);
        std::fflush(stdout);
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_zero: error: %s\n", e.what());
    return 1;
  }
}
