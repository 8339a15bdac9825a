// `popo compare [--config FILE] [--methods LIST] [--seeds K] [--lr-sweep a,b,c] [--pass-k 64]
// [--out DIR] [key=value ...]`: trains each method on the same task, base model and budget with
// K seeds (optionally each at its own learning rate from a short sweep on a validation split),
// then writes the tables (mean ± sd over seeds) and plots of train/compare.h. The same command
// run again continues an interrupted comparison: finished runs are reused, the interrupted one
// resumes from its last checkpoint; `--report` trains nothing and writes the tables of what is
// finished.
// Each method is the base config plus the overrides of compare_method_overrides(), which equal
// configs/<method>.yaml (a test checks it).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>

#include "core/config.h"
#include "core/error.h"
#include "core/io.h"
#include "train/compare.h"
#include "tools/command.h"
#include "tools/signal_stop.h"

namespace popo::tools {
namespace {

struct CompareCliOptions {
  std::string config;
  std::string methods = "baselines";
  int64_t seeds = 1;
  std::string lr_sweep;
  int64_t sweep_steps = 0;
  int64_t sweep_size = 200;
  bool sweep_only = false;
  bool report = false;
  std::string out;
  int64_t pass_k = 64;  // samples per held-out problem at each run's final eval
  std::vector<std::string> overrides;
};

std::vector<double> parse_lr_list(const std::string& s) {
  std::vector<double> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    POPO_CHECK(end && *end == '\0' && v > 0, "--lr-sweep: '", item, "' is not a positive number "
               "(expected a comma-separated list such as 1e-4,3e-4,1e-3)");
    out.push_back(v);
  }
  return out;
}

void run_compare_command(const CompareCliOptions& c) {
  RunConfig base = default_run_config();
  if (!c.config.empty()) load_yaml_file(find_config(c.config), base);
  POPO_CHECK(c.pass_k >= 1, "--pass-k: must be >= 1, got ", c.pass_k);
  base.trainer.eval_samples = c.pass_k;  // a trainer.eval_samples override still wins
  CompareOptions o;
  o.methods = expand_compare_methods(c.methods);
  o.seeds = c.seeds;
  o.lr_sweep = parse_lr_list(c.lr_sweep);
  POPO_CHECK(c.lr_sweep.empty() || !o.lr_sweep.empty(), "--lr-sweep: empty list");
  for (const std::string& ov : c.overrides) {
    POPO_CHECK(o.lr_sweep.empty() || ov.rfind("trainer.lr=", 0) != 0, "--lr-sweep sets each "
               "method's trainer.lr; drop the override ", ov, " or the sweep");
  }
  o.sweep_steps = c.sweep_steps;
  o.sweep_size = c.sweep_size;
  o.sweep_only = c.sweep_only;
  o.report_only = c.report;
  o.overrides = c.overrides;
  o.out = c.out;
  init_runtime(static_cast<int>(base.trainer.threads));
  ScopedStopOnSignal stop_on_sigint;
  o.stop = &stop_on_sigint.flag();
  const CompareReport rep = run_compare(base, o);
  std::cout << read_file(path_join(rep.out, "compare.md"));
  if (rep.runs_missing > 0) std::printf("\n%lld runs of the plan are not finished yet\n", static_cast<long long>(rep.runs_missing));
  std::printf("\n%lld runs trained, %lld reused%s\nwritten: %s/{compare.md, compare_curves.svg, "
              "pass_at_k.svg, neg_logp_delta.svg, summary.json}\n",
              static_cast<long long>(rep.runs_trained), static_cast<long long>(rep.runs_reused),
              rep.interrupted ? "; interrupted: run the same command again to continue" : "",
              rep.out.c_str());
}

const CommandRegistrar kRegistrar(
    "compare", "train several methods with seeds on the same task and budget; tables + plots",
    /*order=*/15, [](CLI::App& app) {
      auto o = std::make_shared<CompareCliOptions>();
      app.add_option("--config", o->config,
                     "base YAML config: a file, or a shipped config by name (default: the "
                     "built-in demo)");
      app.add_option("--methods", o->methods,
                     "comma-separated methods: popo, grpo, psr, nsr, w_reinforce, raft, rloo, "
                     "popo-all, popo-positives, the ablations popo-no-sim, popo-no-entropy, "
                     "popo-uniform, popo-frozen, popo-tau0, popo-no-noise; or the groups "
                     "baselines, ablations")
          ->capture_default_str();
      app.add_option("--seeds", o->seeds, "runs per method (trainer.seed, trainer.seed + 1, ...)")
          ->capture_default_str();
      app.add_option("--lr-sweep", o->lr_sweep,
                     "comma-separated learning rates: each method trains at the one with the best "
                     "validation accuracy in a short sweep (POPO's ablations use POPO's)");
      app.add_option("--sweep-steps", o->sweep_steps, "steps of a sweep run (0 = trainer.steps / 2)")
          ->capture_default_str();
      app.add_option("--sweep-size", o->sweep_size,
                     "validation problems split off the training set for the sweep")
          ->capture_default_str();
      app.add_flag("--sweep-only", o->sweep_only,
                   "run the learning-rate sweep and stop (the same command without it reuses it)");
      app.add_flag("--report", o->report,
                   "train nothing: write the tables and plots of the runs finished so far (e.g. "
                   "while the same command runs elsewhere)");
      app.add_option("--out", o->out,
                     "comparison folder (default: <run.dir>/compare-<hash of the command>)");
      app.add_option("--pass-k", o->pass_k, "k sampled answers per held-out problem at the final "
                                            "eval, for pass@1..k (1 = greedy only)")
          ->capture_default_str();
      app.add_option("overrides", o->overrides, "config overrides key=value for every method");
      app.callback([o] { run_compare_command(*o); });
    });

}  // namespace
}  // namespace popo::tools
