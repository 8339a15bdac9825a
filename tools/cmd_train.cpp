// `popo train [--config FILE] [--resume RUN_DIR] [key=value ...]`: RL training (rl/trainer.h).
// With no arguments it runs the built-in demonstration (configs/default.yaml equals the
// built-in defaults): the arithmetic task on a tiny Qwen2 model with its own tokenizer and a
// cached supervised warm start, then POPO, on CPU in minutes. Ctrl-C checkpoints at the next
// step boundary and exits; a second Ctrl-C kills at once.
#include <CLI/CLI.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "core/config.h"
#include "core/log.h"
#include "dist/launch.h"
#include "train/trainer.h"
#include "tools/command.h"
#include "tools/signal_stop.h"

namespace popo::tools {
namespace {

struct TrainCliOptions {
  std::string config;
  std::string resume;
  std::vector<std::string> overrides;
  bool print_config = false;
  bool help_config = false;
  int nproc = 1;
};

// Returns the exit code of `popo train` run as o.nproc local ranks (this program re-executed
// without --nproc, with the torchrun variables set by launch_local).
int launch_train_ranks(const TrainCliOptions& o) {
  std::vector<std::string> argv = {self_executable(), "train"};
  if (!o.config.empty()) argv.insert(argv.end(), {"--config", o.config});
  if (!o.resume.empty()) argv.insert(argv.end(), {"--resume", o.resume});
  argv.insert(argv.end(), o.overrides.begin(), o.overrides.end());
  return launch_local(o.nproc, argv);
}

void run_train(const TrainCliOptions& o) {
  if (o.help_config) {
    std::cout << describe_fields(default_run_config());
    return;
  }
  RunConfig cfg = default_run_config();
  if (!o.resume.empty()) {
    POPO_CHECK(o.config.empty(), "--resume takes the run's own config.resolved.yaml; pass "
               "changes as key=value overrides instead of --config");
    cfg = load_run_config(o.resume, o.overrides);
  } else {
    if (!o.config.empty()) load_yaml_file(find_config(o.config), cfg);
    apply_overrides(cfg, o.overrides);
  }
  if (o.print_config) {
    std::cout << dump_yaml(cfg);
    return;
  }
  if (o.nproc > 1) {
    POPO_CHECK(std::getenv("WORLD_SIZE") == nullptr, "--nproc ", o.nproc, " spawns local ranks "
               "itself; under torchrun-style variables (WORLD_SIZE set) leave --nproc out");
    validate_run_config(cfg);
    POPO_CHECK(cfg.trainer.prompts_per_step % o.nproc == 0, "trainer.prompts_per_step = ",
               cfg.trainer.prompts_per_step, " is not divisible by --nproc ", o.nproc,
               " (each rank samples an equal shard of whole prompt groups)");
    const int code = launch_train_ranks(o);
    POPO_CHECK(code == 0, "popo train --nproc ", o.nproc, ": a rank failed with exit code ", code,
               " (see the [rank k] lines above)");
    return;
  }
  validate_run_config(cfg);
  init_runtime(static_cast<int>(cfg.trainer.threads));
  TrainOptions topts;
  topts.resume_dir = o.resume;
  ScopedStopOnSignal stop_on_sigint;
  topts.stop = &stop_on_sigint.flag();
  TrainResult r = run_training(cfg, topts);
  if (const char* rank = std::getenv("RANK"); rank != nullptr && std::string(rank) != "0") return;
  std::printf("run folder: %s\n", r.run_dir.c_str());
  std::printf("steps: %lld%s\n", static_cast<long long>(r.steps_done),
              r.interrupted ? " (interrupted; continue with --resume)" : "");
  if (r.base_heldout >= 0) std::printf("held-out accuracy at start: %.1f%%\n", 100 * r.base_heldout);
  if (r.final_heldout >= 0) std::printf("held-out accuracy at end:   %.1f%%\n", 100 * r.final_heldout);
  if (r.best_heldout >= 0) std::printf("best held-out accuracy:     %.1f%%\n", 100 * r.best_heldout);
  std::printf("wall time: %.1f s (mean update %.3f s/step, rollout %.3f s/step)\n", r.wall_seconds,
              r.mean_update_seconds, r.mean_rollout_seconds);
}

const CommandRegistrar kRegistrar(
    "train", "RL training (POPO, GRPO, PSR, RAFT, ...); no arguments = the CPU demonstration",
    /*order=*/10, [](CLI::App& app) {
      auto o = std::make_shared<TrainCliOptions>();
      app.add_option("--config", o->config,
                     "YAML run config: a file, or a shipped config by name (grpo, "
                     "qwen2.5-math-1.5b-popo, ...); default: the built-in demo");
      app.add_option("--resume", o->resume, "run folder to continue from its latest checkpoint");
      app.add_option("--nproc", o->nproc, "data-parallel ranks on this machine (spawned here; "
                     "docs/DISTRIBUTED.md)")->check(CLI::PositiveNumber);
      app.add_flag("--print-config", o->print_config, "print the resolved config as YAML and exit");
      app.add_flag("--help-config", o->help_config, "list every config key with its default and exit");
      app.add_option("overrides", o->overrides, "config overrides key=value, e.g. trainer.lr=1e-6");
      app.callback([o] { run_train(*o); });
    });

}  // namespace
}  // namespace popo::tools
