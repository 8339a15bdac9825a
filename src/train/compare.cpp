// Method overrides, comparison table and curves.
#include "train/compare.h"

#include <cstdio>
#include <sstream>

#include "core/config.h"
#include "core/error.h"
#include "core/io.h"
#include "core/plot.h"
#include "train/train_plots.h"

namespace popo {

namespace {

struct MethodSpec {
  const char* name;
  std::vector<std::string> overrides;
};

// The methods of a comparison. PSR and GRPO read the policy-gradient path (one update per batch,
// so the ratio is 1 and clipping is inactive); RAFT and POPO the positive-only NLL path.
const std::vector<MethodSpec>& method_specs() {
  static const std::vector<MethodSpec> specs = {
      {"popo", {"algo.name=popo"}},  // the config's own POPO options
      {"popo-all", {"algo.name=popo", "popo.entropy_on=all"}},
      {"popo-positives", {"algo.name=popo", "popo.entropy_on=positives"}},
      {"grpo", {"algo.name=grpo"}},
      {"psr", {"algo.name=psr"}},
      {"raft", {"algo.name=raft"}},
      {"rloo", {"algo.name=rloo"}},
      {"nsr", {"algo.name=nsr"}},
      {"w_reinforce", {"algo.name=w_reinforce"}},
  };
  return specs;
}

std::string pct(double v) {
  if (v < 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f%%", 100 * v);
  return buf;
}

std::string num(double v, const char* fmt) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

}  // namespace

std::vector<std::string> compare_method_names() {
  std::vector<std::string> names;
  for (const auto& s : method_specs()) names.push_back(s.name);
  return names;
}

std::vector<std::string> compare_method_overrides(const std::string& method) {
  for (const auto& s : method_specs()) {
    if (method == s.name) return s.overrides;
  }
  std::string known;
  for (const auto& n : compare_method_names()) known += (known.empty() ? "" : ", ") + n;
  POPO_FAIL("compare: unknown method '", method, "'; expected one of ", known);
}

std::string compare_table_markdown(const std::vector<CompareEntry>& entries) {
  double grpo_update = -1;
  for (const auto& e : entries) {
    if (e.method == "grpo") grpo_update = e.result.mean_update_seconds;
  }
  std::ostringstream md;
  int64_t k = 1;
  for (const auto& e : entries) k = std::max(k, e.result.pass_k);
  md << "| method | algo | held-out start | held-out end | best | pass@" << k
     << " end | steps | wall time (s) | update s/step | rollout s/step |"
     << (grpo_update > 0 ? " update vs GRPO |" : "") << "\n";
  md << "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|" << (grpo_update > 0 ? "---:|" : "") << "\n";
  for (const auto& e : entries) {
    const TrainResult& r = e.result;
    md << "| " << e.method << " | " << e.config.algo.name_text()
       << (e.config.algo.traits().popo_terms
               ? std::string(" (entropy_on=") + enum_name(e.config.algo.popo.entropy_on) + ")"
               : std::string())
       << " | " << pct(r.base_heldout) << " | " << pct(r.final_heldout) << " | "
       << pct(r.best_heldout) << " | " << (r.pass_k > 1 ? pct(r.final_pass_at_k) : "-") << " | "
       << r.steps_done << " | " << num(r.wall_seconds, "%.0f") << " | "
       << num(r.mean_update_seconds, "%.3f") << " | " << num(r.mean_rollout_seconds, "%.3f") << " |";
    if (grpo_update > 0) {
      md << " " << num(100.0 * (r.mean_update_seconds / grpo_update - 1.0), "%+.0f%%") << " |";
    }
    md << "\n";
  }
  return md.str();
}

void write_compare_curves_svg(const std::vector<CompareEntry>& entries, const std::string& path) {
  PlotSpec acc{"Held-out greedy accuracy", "step", "accuracy", {}};
  PlotSpec reward{"Mean training reward", "step", "reward", {}};
  for (const auto& e : entries) {
    const std::string metrics = path_join(e.result.run_dir, "metrics.jsonl");
    if (!path_exists(metrics)) continue;
    acc.series.push_back(metric_series(metrics, "heldout/accuracy", e.method));
    reward.series.push_back(metric_series(metrics, "reward/mean", e.method));
  }
  write_plot_grid_svg(path, {acc, reward}, /*columns=*/2);
}

}  // namespace popo
