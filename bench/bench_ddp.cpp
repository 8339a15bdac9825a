// Data-parallel scaling of `popo train` on this machine: the built-in demonstration (default
// config: model, data, prompts_per_step, group size) for a few steps as 1 process with 1 thread,
// 1 process with 2 threads, and `--nproc 2` ranks with 1 thread each. Prints one markdown table:
// optimizer steps/s and generated (rollout) tokens/s over the timed steps, and the mean rollout
// and update phase per step. Step 1 (warm-up) and the last step (it includes the final held-out
// eval) are not timed. The popo program is looked up next to this executable.
// Usage: bench_ddp [--steps 6] [--heldout 16] [--cache DIR]
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "dist/launch.h"

namespace fs = std::filesystem;

namespace {

struct Row {
  std::string name;
  double steps_per_s = 0, tokens_per_s = 0, rollout_s = 0, update_s = 0;
  int timed = 0;
};

// Returns the timing of one run folder's metrics.jsonl (steps 2 .. steps-1).
Row summarise(const std::string& name, const std::string& run_dir, int64_t steps,
              int64_t rollouts_per_step) {
  Row r;
  r.name = name;
  double t = 0, tokens = 0, ro = 0, up = 0;
  for (const auto& row : popo::read_metrics(run_dir + "/metrics.jsonl")) {
    const int64_t step = row.at("step").get<int64_t>();
    if (step < 2 || step >= steps || !row.contains("time/step")) continue;
    t += row.at("time/step").get<double>();
    tokens += row.at("response/length_mean").get<double>() * double(rollouts_per_step);
    ro += row.at("time/rollout").get<double>();
    up += row.at("time/update").get<double>();
    ++r.timed;
  }
  if (r.timed > 0) {
    r.steps_per_s = r.timed / t;
    r.tokens_per_s = tokens / t;
    r.rollout_s = ro / r.timed;
    r.update_s = up / r.timed;
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t steps = 6, heldout = 16;
  std::string cache = (fs::temp_directory_path() / "popo_bench_ddp_cache").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--steps") steps = std::atoll(argv[i + 1]);
    else if (k == "--heldout") heldout = std::atoll(argv[i + 1]);
    else if (k == "--cache") cache = argv[i + 1];
  }
  if (steps < 3) steps = 3;
  const std::string popo = (fs::path(popo::self_executable()).parent_path() / "popo").string();
  const fs::path tmp = fs::temp_directory_path() / ("popo_bench_ddp_" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  struct Case {
    const char* name;
    int nproc, threads;
  };
  const Case cases[] = {{"1 process x 1 thread", 1, 1},
                        {"1 process x 2 threads", 1, 2},
                        {"2 processes x 1 thread (--nproc 2)", 2, 1}};
  std::vector<Row> rows;
  int64_t rollouts = 0;
  for (const Case& c : cases) {
    const std::string name = "run" + std::to_string(c.nproc) + "x" + std::to_string(c.threads);
    std::string cmd = "OMP_NUM_THREADS=" + std::to_string(c.threads) + " '" + popo + "' train" +
                      (c.nproc > 1 ? " --nproc " + std::to_string(c.nproc) : std::string()) +
                      " trainer.steps=" + std::to_string(steps) +
                      " trainer.eval_every=0 trainer.save_every=0 run.plots=false" +
                      " trainer.threads=" + std::to_string(c.threads) +
                      " data.heldout_size=" + std::to_string(heldout) + " run.dir='" +
                      tmp.string() + "' run.name=" + name + " run.cache_dir='" + cache +
                      "' > '" + (tmp / (name + ".log")).string() + "' 2>&1";
    std::fprintf(stderr, "bench_ddp: %s\n", c.name);
    if (std::system(cmd.c_str()) != 0) {
      std::fprintf(stderr, "bench_ddp: `%s` failed; log in %s\n", cmd.c_str(), tmp.c_str());
      return 1;
    }
    if (rollouts == 0) {
      // P x G from the resolved config (first run).
      const std::string yaml = (tmp / name / "config.resolved.yaml").string();
      FILE* f = std::fopen(yaml.c_str(), "r");
      char line[512];
      int64_t p = 0, g = 0;
      bool in_trainer = false;
      while (f && std::fgets(line, sizeof(line), f)) {
        std::string s(line);
        if (!s.empty() && s[0] != ' ') in_trainer = s.rfind("trainer:", 0) == 0;
        if (in_trainer && s.find("prompts_per_step:") != std::string::npos) p = std::atoll(s.substr(s.find(':') + 1).c_str());
        if (in_trainer && s.find("group_size:") != std::string::npos) g = std::atoll(s.substr(s.find(':') + 1).c_str());
      }
      if (f) std::fclose(f);
      rollouts = p * g;
    }
    rows.push_back(summarise(c.name, (tmp / name).string(), steps, rollouts));
  }
  std::printf("| demo run, %lld rollouts/step, %d timed steps | steps/s | rollout tokens/s | "
              "rollout s/step | update s/step | speed-up vs 1x1 |\n|---|---|---|---|---|---|\n",
              static_cast<long long>(rollouts), rows.empty() ? 0 : rows[0].timed);
  for (const Row& r : rows) {
    std::printf("| %s | %.3f | %.0f | %.2f | %.2f | %.2fx |\n", r.name.c_str(), r.steps_per_s,
                r.tokens_per_s, r.rollout_s, r.update_s,
                rows[0].steps_per_s > 0 ? r.steps_per_s / rows[0].steps_per_s : 0.0);
  }
  fs::remove_all(tmp);
  return 0;
}
