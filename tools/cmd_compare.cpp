// `popo compare [--config FILE] [--methods popo,grpo,psr,raft] [--pass-k 8] [--out DIR]
// [key=value ...]`:
// trains each method on the same task, seed and budget, one after the other, then writes one
// markdown table (held-out accuracy at start / end / best, pass@k, wall time, mean update and
// rollout time per step) and one SVG with the learning curves of every method.
// Each method is the base config plus the overrides of compare_method_overrides(), which equal
// configs/<method>.yaml (a test checks it).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>
#include <sstream>

#include "core/config.h"
#include "core/error.h"
#include "core/io.h"
#include "core/log.h"
#include "core/plot.h"
#include "train/compare.h"
#include "train/train_plots.h"
#include "train/trainer.h"
#include "tools/command.h"
#include "tools/signal_stop.h"

namespace popo::tools {
namespace {

struct CompareCliOptions {
  std::string config;
  std::string methods = "popo,grpo,psr,raft";
  std::string out;
  int64_t pass_k = 8;  // samples per held-out problem at each method's final eval
  std::vector<std::string> overrides;
};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

void run_compare(const CompareCliOptions& o) {
  RunConfig base = default_run_config();
  if (!o.config.empty()) load_yaml_file(find_config(o.config), base);
  POPO_CHECK(o.pass_k >= 1, "--pass-k: must be >= 1, got ", o.pass_k);
  base.trainer.eval_samples = o.pass_k;  // a trainer.eval_samples override below still wins
  apply_overrides(base, o.overrides);
  const std::vector<std::string> methods = split_list(o.methods);
  POPO_CHECK(!methods.empty(), "--methods: empty list");
  // Validate every method's config before the first run starts.
  std::vector<RunConfig> configs;
  for (const auto& m : methods) {
    RunConfig c = base;
    apply_overrides(c, compare_method_overrides(m));
    apply_overrides(c, o.overrides);  // the command line wins over the method's defaults
    validate_run_config(c);
    configs.push_back(c);
  }
  std::string out = o.out;
  if (out.empty()) {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y%m%d-%H%M%S", &tm);
    out = path_join(base.run.dir, std::string("compare-") + buf);
  }
  init_runtime(static_cast<int>(base.trainer.threads));
  ScopedStopOnSignal stop_on_sigint;
  std::vector<CompareEntry> entries;
  for (size_t i = 0; i < methods.size(); ++i) {
    RunConfig c = configs[i];
    c.run.dir = out;
    c.run.name = methods[i];
    if (c.run.cache_dir.empty()) c.run.cache_dir = path_join(base.run.dir, ".cache");
    LOG_INFO("compare: method ", i + 1, "/", methods.size(), ": ", methods[i]);
    TrainOptions topts;
    topts.stop = &stop_on_sigint.flag();
    TrainResult r = run_training(c, topts);
    entries.push_back(CompareEntry{methods[i], c, r});
    if (r.interrupted) {
      LOG_WARN("compare: interrupted during ", methods[i], "; writing the table of the runs so far");
      break;
    }
  }
  const std::string table = compare_table_markdown(entries);
  write_file_atomic(path_join(out, "compare.md"), table);
  write_compare_curves_svg(entries, path_join(out, "compare_curves.svg"));
  std::cout << table;
  std::printf("\nwritten: %s, %s\n", path_join(out, "compare.md").c_str(),
              path_join(out, "compare_curves.svg").c_str());
}

const CommandRegistrar kRegistrar(
    "compare", "train POPO, GRPO, PSR and RAFT on the same task and budget; one table + one plot",
    /*order=*/15, [](CLI::App& app) {
      auto o = std::make_shared<CompareCliOptions>();
      app.add_option("--config", o->config,
                     "base YAML config: a file, or a shipped config by name (default: the "
                     "built-in demo)");
      app.add_option("--methods", o->methods, "comma-separated methods: popo (the config's POPO), popo-all, popo-positives, grpo, "
                                              "psr, raft, rloo, ...")
          ->capture_default_str();
      app.add_option("--out", o->out, "output folder (default: <run.dir>/compare-<time>)");
      app.add_option("--pass-k", o->pass_k, "k sampled answers per held-out problem at the final "
                                            "eval, for the pass@k column (1 = greedy only)")
          ->capture_default_str();
      app.add_option("overrides", o->overrides, "config overrides key=value for every method");
      app.callback([o] { run_compare(*o); });
    });

}  // namespace
}  // namespace popo::tools
