// Methods, seeds, the learning-rate sweep, resumable runs, and the tables and plots of a comparison.
#include "train/compare.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/config.h"
#include "core/error.h"
#include "core/io.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/plot.h"
#include "core/rng.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

namespace popo {

namespace fs = std::filesystem;

namespace {

struct MethodSpec {
  const char* name;
  std::vector<std::string> overrides;
  const char* sweep_as;  // the method whose learning-rate sweep this one takes ("" = its own)
};

// The methods of a comparison. GRPO, RLOO, PSR, NSR and W-REINFORCE read the policy-gradient
// path (one update per batch, so the ratio is 1 and clipping is inactive); RAFT and POPO the
// positive-only NLL path. The ablations switch one POPO term off each (POPO.md).
const std::vector<MethodSpec>& method_specs() {
  static const std::vector<MethodSpec> specs = {
      {"popo", {"algo.name=popo"}, ""},  // the config's own POPO options
      {"popo-all", {"algo.name=popo", "popo.entropy_on=all"}, ""},
      {"popo-positives", {"algo.name=popo", "popo.entropy_on=positives"}, ""},
      {"grpo", {"algo.name=grpo"}, ""},
      {"psr", {"algo.name=psr"}, ""},
      {"nsr", {"algo.name=nsr"}, ""},
      {"w_reinforce", {"algo.name=w_reinforce"}, ""},
      {"raft", {"algo.name=raft"}, ""},
      {"rloo", {"algo.name=rloo"}, ""},
      {"popo-no-sim", {"algo.name=popo", "popo.sim_coef=0"}, "popo"},
      {"popo-no-entropy", {"algo.name=popo", "popo.entropy_coef=0"}, "popo"},
      {"popo-uniform", {"algo.name=popo", "popo.weights=uniform"}, "popo"},
      {"popo-frozen", {"algo.name=popo", "popo.momentum=1"}, "popo"},
      {"popo-tau0", {"algo.name=popo", "popo.momentum=0"}, "popo"},
      {"popo-no-noise", {"algo.name=popo", "popo.noise_std=0"}, "popo"},
  };
  return specs;
}

const MethodSpec& method_spec(const std::string& method) {
  for (const auto& s : method_specs()) {
    if (method == s.name) return s;
  }
  std::string known;
  for (const auto& n : compare_method_names()) known += (known.empty() ? "" : ", ") + n;
  POPO_FAIL("compare: unknown method '", method, "'; expected one of ", known,
            " (or the groups baselines, ablations)");
}

std::string fmt(const char* f, double v) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), f, v);
  return buf;
}

// "55.4%" for one value, "55.4 ± 1.2%" for several (percent of a share).
std::string pct(const MeanSd& m) {
  if (m.n == 0) return "-";
  if (m.n == 1) return fmt("%.1f%%", 100 * m.mean);
  return fmt("%.1f", 100 * m.mean) + " ± " + fmt("%.1f%%", 100 * m.sd);
}

std::string plain(const MeanSd& m, const char* f) {
  if (m.n == 0) return "-";
  if (m.n == 1) return fmt(f, m.mean);
  return fmt(f, m.mean) + " ± " + fmt(f, m.sd);
}

std::string lr_text(double lr) { return fmt("%g", lr); }

// The runs of each method, in first-appearance order.
std::vector<std::pair<std::string, std::vector<const RunSummary*>>> by_method(
    const std::vector<RunSummary>& runs) {
  std::vector<std::pair<std::string, std::vector<const RunSummary*>>> groups;
  for (const RunSummary& r : runs) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == r.method; });
    if (it == groups.end()) {
      groups.push_back({r.method, {}});
      it = groups.end() - 1;
    }
    it->second.push_back(&r);
  }
  return groups;
}

template <class F>
MeanSd over(const std::vector<const RunSummary*>& runs, F value) {
  std::vector<double> v;
  for (const RunSummary* r : runs) {
    const double x = value(*r);
    if (std::isfinite(x)) v.push_back(x);
  }
  return mean_sd(v);
}

double pass_at(const RunSummary& r, int64_t k) {
  for (const auto& [kk, p] : r.pass_curve) {
    if (kk == k) return p;
  }
  return NAN;
}

int64_t largest_k(const std::vector<const RunSummary*>& runs) {
  int64_t k = 0;
  for (const RunSummary* r : runs) {
    if (!r->pass_curve.empty()) k = std::max(k, r->pass_curve.back().first);
  }
  return k;
}

// ---- plots ------------------------------------------------------------------------------------

// Appends the point (x, mean) to s, with the band mean -/+ sd when band.
void add_mean_point(Series* s, double x, const MeanSd& m, bool band) {
  s->x.push_back(x);
  s->y.push_back(m.mean);
  if (band) {
    s->lo.push_back(m.mean - m.sd);
    s->hi.push_back(m.mean + m.sd);
  }
}

// Returns the series of the mean over runs (the metrics rows of each) of metric key at each step
// that any run logged it, with a band of one standard deviation when there are several runs.
Series mean_band_series(const std::vector<std::vector<nlohmann::json>>& runs, const std::string& key,
                        const std::string& name) {
  std::map<double, std::vector<double>> at;
  for (const auto& rows : runs) {
    for (const nlohmann::json& row : rows) {
      if (!row.contains(key) || !row.at(key).is_number() || !row.contains("step")) continue;
      at[row.at("step").get<double>()].push_back(row.at(key).get<double>());
    }
  }
  Series s;
  s.name = runs.size() > 1 ? name + " (" + std::to_string(runs.size()) + " seeds)" : name;
  for (const auto& [step, values] : at) add_mean_point(&s, step, mean_sd(values), runs.size() > 1);
  return s;
}

void write_compare_plots(const std::vector<RunSummary>& runs, const std::string& out) {
  const auto groups = by_method(runs);
  PlotSpec acc{"Held-out greedy accuracy (mean ± sd over seeds)", "step", "accuracy", {}};
  PlotSpec reward{"Mean training reward", "step", "reward", {}};
  PlotSpec neg{"Change of the negatives' length-normalised log-prob per update", "step",
               "popo/neg_logp_delta (nats/token)", {}};
  PlotSpec pass{"pass@k at the end of training (unbiased estimator)", "log2 k", "pass@k", {}};
  for (const auto& [method, rs] : groups) {
    std::vector<std::vector<nlohmann::json>> rows;  // each run's metrics, read once
    for (const RunSummary* r : rs) {
      const std::string path = path_join(r->run_dir, "metrics.jsonl");
      if (path_exists(path)) rows.push_back(read_metrics(path));
    }
    acc.series.push_back(mean_band_series(rows, "heldout/accuracy", method));
    reward.series.push_back(mean_band_series(rows, "reward/mean", method));
    Series n = mean_band_series(rows, "popo/neg_logp_delta", method);
    if (!n.x.empty()) neg.series.push_back(std::move(n));
    const int64_t kmax = largest_k(rs);
    if (kmax > 1) {
      Series p;
      p.name = method;
      for (int64_t k = 1; k <= kmax; k *= 2) {
        const MeanSd m = over(rs, [k](const RunSummary& r) { return pass_at(r, k); });
        if (m.n > 0) add_mean_point(&p, std::log2(static_cast<double>(k)), m, rs.size() > 1);
      }
      // A band needs one value per point; drop it if a run lacked some k.
      if (p.lo.size() != p.x.size()) p.lo.clear(), p.hi.clear();
      pass.series.push_back(std::move(p));
    }
  }
  write_plot_grid_svg(path_join(out, "compare_curves.svg"), {acc, reward}, /*columns=*/2);
  write_plot_grid_svg(path_join(out, "pass_at_k.svg"), {pass}, /*columns=*/1);
  write_plot_grid_svg(path_join(out, "neg_logp_delta.svg"), {neg}, /*columns=*/1);
}

nlohmann::json summary_json(const RunSummary& r) {
  nlohmann::json pc = nlohmann::json::array();
  for (const auto& [k, p] : r.pass_curve) pc.push_back({k, p});
  return {{"method", r.method},
          {"seed", r.seed},
          {"lr", r.lr},
          {"run_dir", r.run_dir},
          {"steps", r.steps},
          {"base_heldout", r.base_heldout},
          {"final_heldout", r.final_heldout},
          {"best_heldout", r.best_heldout},
          {"pass_curve", pc},
          {"wall_seconds", r.wall_seconds},
          {"mean_update_seconds", r.mean_update_seconds},
          {"mean_rollout_seconds", r.mean_rollout_seconds},
          {"mean_neg_logp_delta", r.mean_neg_logp_delta},
          {"neg_logp_steps", r.neg_logp_steps}};
}

// ---- running ----------------------------------------------------------------------------------

// The marker a finished run leaves in its folder: the config it was trained with.
constexpr const char* kDoneFile = "compare_done.yaml";

// Trains cfg into <run.dir>/<run.name> unless that folder already holds the finished run of the
// same config. Returns false when the stop flag interrupted it (its checkpoint is kept, and the
// next call resumes it).
// Returns "" when the config saved at path has the values of cfg, else the first key that
// differs with both values. Values, not text: a changed comment or key order in the dump (a newer
// binary's documentation) does not make a finished run another run.
std::string config_difference(const std::string& path, const RunConfig& cfg) {
  RunConfig saved = default_run_config();
  try {
    load_yaml_file(path, saved);
  } catch (const Error& e) {
    return std::string("it does not load into this version's config: ") + e.what();
  }
  const auto a = flatten(saved), b = flatten(cfg);
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (a[i] != b[i]) return a[i].first + " is " + a[i].second + " there, " + b[i].second + " here";
  }
  return a.size() == b.size() ? "" : "the keys differ";
}

bool train_or_reuse(const RunConfig& cfg, const CompareOptions& o, bool* reused) {
  const std::string dir = path_join(cfg.run.dir, cfg.run.name);
  const std::string want = dump_yaml(cfg);
  const std::string done = path_join(dir, kDoneFile);
  *reused = false;
  if (path_exists(done)) {
    const std::string diff = config_difference(done, cfg);
    POPO_CHECK(diff.empty(), "compare: ", dir, " holds a finished run of another config (", done,
               ": ", diff, "); delete the folder or pass another --out");
    *reused = true;
    return true;
  }
  TrainOptions topts;
  topts.stop = o.stop;
  topts.show_progress = o.show_progress;
  topts.log_info = o.log_info;
  topts.stop_after_step = o.stop_after_step;
  if (!latest_checkpoint(path_join(dir, "checkpoints")).empty()) {
    const std::string resolved = path_join(dir, "config.resolved.yaml");
    POPO_CHECK(path_exists(resolved), "compare: ", dir, " holds checkpoints but no ", resolved,
               "; delete the folder or pass another --out");
    const std::string diff = config_difference(resolved, cfg);
    POPO_CHECK(diff.empty(), "compare: ", dir, " holds an unfinished run of another config (",
               resolved, ": ", diff, "); delete the folder or pass another --out");
    if (o.log_info) LOG_INFO("compare: resuming ", dir);
    topts.resume_dir = dir;
  } else if (fs::exists(dir)) {
    fs::remove_all(dir);  // an unfinished run without a checkpoint: nothing to keep
  }
  const TrainResult r = run_training(cfg, topts);
  if (r.interrupted) return false;
  write_file_atomic(done, want);
  return true;
}

std::string seed_dir_name(int64_t seed) { return "seed-" + std::to_string(seed); }

}  // namespace

// ---- methods ----------------------------------------------------------------------------------

std::vector<std::string> compare_method_names() {
  std::vector<std::string> names;
  for (const auto& s : method_specs()) names.push_back(s.name);
  return names;
}

std::vector<std::string> compare_method_overrides(const std::string& method) {
  return method_spec(method).overrides;
}

std::string compare_sweep_method(const std::string& method) {
  const MethodSpec& s = method_spec(method);
  return *s.sweep_as ? s.sweep_as : s.name;
}

std::vector<std::string> expand_compare_methods(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    std::vector<std::string> names;
    if (item == "baselines") {
      names = {"popo", "grpo", "psr", "nsr", "w_reinforce", "raft", "rloo"};
    } else if (item == "ablations") {
      names = {"popo", "popo-no-sim", "popo-no-entropy", "popo-uniform", "popo-frozen",
               "popo-tau0", "popo-no-noise"};
    } else {
      method_spec(item);  // throws on an unknown name
      names = {item};
    }
    for (const std::string& n : names) {
      POPO_CHECK(std::find(out.begin(), out.end(), n) == out.end(), "--methods: '", n,
                 "' is listed twice in '", list, "'");
      out.push_back(n);
    }
  }
  POPO_CHECK(!out.empty(), "--methods: empty list");
  return out;
}

// ---- summaries --------------------------------------------------------------------------------

MeanSd mean_sd(const std::vector<double>& values) {
  MeanSd m;
  m.n = static_cast<int64_t>(values.size());
  if (m.n == 0) return m;
  for (double v : values) m.mean += v;
  m.mean /= static_cast<double>(m.n);
  if (m.n > 1) {
    double ss = 0;
    for (double v : values) ss += (v - m.mean) * (v - m.mean);
    m.sd = std::sqrt(ss / static_cast<double>(m.n - 1));
  }
  return m;
}

RunSummary summarize_run_metrics(const std::string& metrics_path) {
  POPO_CHECK(path_exists(metrics_path), "compare: no metrics file ", metrics_path);
  RunSummary s;
  double update = 0, rollout = 0, neg = 0;
  int64_t steps_timed = 0;
  for (const nlohmann::json& row : read_metrics(metrics_path)) {
    if (!row.contains("step")) continue;
    const int64_t step = row.at("step").get<int64_t>();
    auto num = [&](const char* key) {
      return row.contains(key) && row.at(key).is_number() ? row.at(key).get<double>() : NAN;
    };
    s.steps = std::max(s.steps, step);
    const double acc = num("heldout/accuracy");
    if (std::isfinite(acc)) {
      if (step == 0) s.base_heldout = acc;
      s.final_heldout = acc;
      s.best_heldout = std::max(s.best_heldout, acc);
    }
    if (step == 0) {
      if (std::isfinite(num("time/eval"))) s.wall_seconds += num("time/eval");
      continue;
    }
    if (std::isfinite(num("time/step"))) s.wall_seconds += num("time/step");
    if (std::isfinite(num("time/update"))) update += num("time/update"), ++steps_timed;
    if (std::isfinite(num("time/rollout"))) rollout += num("time/rollout");
    if (std::isfinite(num("popo/neg_logp_delta"))) neg += num("popo/neg_logp_delta"), ++s.neg_logp_steps;
    std::vector<std::pair<int64_t, double>> curve;
    for (int64_t k = 1;; k *= 2) {
      const double p = num(("heldout/pass_at_" + std::to_string(k)).c_str());
      if (!std::isfinite(p)) break;
      curve.emplace_back(k, p);
    }
    const double kk = num("heldout/k");  // the last point when k is not a power of two
    if (!curve.empty() && std::isfinite(kk) && static_cast<int64_t>(kk) != curve.back().first) {
      const double p = num(("heldout/pass_at_" + std::to_string(static_cast<int64_t>(kk))).c_str());
      if (std::isfinite(p)) curve.emplace_back(static_cast<int64_t>(kk), p);
    }
    if (!curve.empty()) s.pass_curve = curve;
  }
  POPO_CHECK(s.base_heldout >= 0, "compare: ", metrics_path, " has no step-0 held-out evaluation "
             "(heldout/accuracy at step 0); is it a popo run's metrics.jsonl?");
  if (steps_timed > 0) {
    s.mean_update_seconds = update / static_cast<double>(steps_timed);
    s.mean_rollout_seconds = rollout / static_cast<double>(steps_timed);
  }
  if (s.neg_logp_steps > 0) s.mean_neg_logp_delta = neg / static_cast<double>(s.neg_logp_steps);
  return s;
}

std::string compare_table_markdown(const std::vector<RunSummary>& runs) {
  const auto groups = by_method(runs);
  if (groups.empty()) return "(no finished run)\n";
  double grpo_update = -1;
  for (const auto& [method, rs] : groups) {
    if (method == "grpo") grpo_update = over(rs, [](const RunSummary& r) { return r.mean_update_seconds; }).mean;
  }
  int64_t kmax = 0;
  for (const auto& g : groups) kmax = std::max(kmax, largest_k(g.second));
  const std::string ref = groups.front().first;
  const MeanSd ref_end = over(groups.front().second, [](const RunSummary& r) { return r.final_heldout; });
  std::ostringstream md;
  md << "| method | seeds | lr | held-out start | held-out end | best | ";
  if (kmax > 1) md << "pass@1 end | pass@" << kmax << " end | ";
  md << "end − " << ref << " | steps | wall time (s) | update s/step | rollout s/step | ";
  if (grpo_update > 0) md << "update vs GRPO | ";
  md << "neg logp Δ/update |\n|---|---:|---:|---:|---:|---:|";
  if (kmax > 1) md << "---:|---:|";
  md << "---:|---:|---:|---:|---:|" << (grpo_update > 0 ? "---:|" : "") << "---:|\n";
  for (const auto& [method, rs] : groups) {
    const MeanSd end = over(rs, [](const RunSummary& r) { return r.final_heldout; });
    std::set<double> lrs;
    for (const RunSummary* r : rs) lrs.insert(r->lr);
    std::string lr;
    for (double v : lrs) lr += (lr.empty() ? "" : ", ") + lr_text(v);
    md << "| " << method << " | " << rs.size() << " | " << lr << " | "
       << pct(over(rs, [](const RunSummary& r) { return r.base_heldout; })) << " | " << pct(end)
       << " | " << pct(over(rs, [](const RunSummary& r) { return r.best_heldout; })) << " | ";
    if (kmax > 1) {
      md << pct(over(rs, [](const RunSummary& r) { return pass_at(r, 1); })) << " | "
         << pct(over(rs, [kmax](const RunSummary& r) { return pass_at(r, kmax); })) << " | ";
    }
    // The difference of means and its standard error sqrt(s1^2/n1 + s2^2/n2) (needs >= 2 seeds
    // on both sides); ** marks |difference| > 2 SE.
    if (method == ref) {
      md << "- | ";
    } else {
      const double d = end.mean - ref_end.mean;
      std::string cell = fmt("%+.1f", 100 * d);
      if (end.n > 1 && ref_end.n > 1) {
        const double se = std::sqrt(end.sd * end.sd / end.n + ref_end.sd * ref_end.sd / ref_end.n);
        cell += " (SE " + fmt("%.1f", 100 * se) + ")" + (std::abs(d) > 2 * se ? " **" : "");
      }
      md << cell << " | ";
    }
    const MeanSd update = over(rs, [](const RunSummary& r) { return r.mean_update_seconds; });
    md << plain(over(rs, [](const RunSummary& r) { return static_cast<double>(r.steps); }), "%.0f")
       << " | " << plain(over(rs, [](const RunSummary& r) { return r.wall_seconds; }), "%.0f")
       << " | " << plain(update, "%.3f") << " | "
       << plain(over(rs, [](const RunSummary& r) { return r.mean_rollout_seconds; }), "%.3f") << " | ";
    if (grpo_update > 0) md << fmt("%+.0f%%", 100.0 * (update.mean / grpo_update - 1.0)) << " | ";
    md << plain(over(rs, [](const RunSummary& r) {
                  return r.neg_logp_steps > 0 ? r.mean_neg_logp_delta : NAN;
                }),
                "%.4f")
       << " |\n";
  }
  return md.str();
}

std::string pass_at_k_table_markdown(const std::vector<RunSummary>& runs) {
  const auto groups = by_method(runs);
  int64_t kmax = 0;
  for (const auto& g : groups) kmax = std::max(kmax, largest_k(g.second));
  if (kmax <= 1) return "";
  std::ostringstream md;
  md << "| method |";
  std::vector<int64_t> ks;
  for (int64_t k = 1; k <= kmax; k *= 2) ks.push_back(k);
  if (ks.back() != kmax) ks.push_back(kmax);
  for (int64_t k : ks) md << " pass@" << k << " |";
  md << "\n|---|";
  for (size_t i = 0; i < ks.size(); ++i) md << "---:|";
  md << "\n";
  for (const auto& [method, rs] : groups) {
    md << "| " << method << " |";
    for (int64_t k : ks) md << " " << pct(over(rs, [k](const RunSummary& r) { return pass_at(r, k); })) << " |";
    md << "\n";
  }
  return md.str();
}

// ---- learning-rate sweep ----------------------------------------------------------------------

double pick_lr(const std::vector<SweepPoint>& points, const std::string& method) {
  const SweepPoint* best = nullptr;
  for (const SweepPoint& p : points) {
    if (p.method == method && (!best || p.score > best->score)) best = &p;
  }
  POPO_CHECK(best, "compare: no sweep point for method '", method, "'");
  return best->lr;
}

std::string sweep_table_markdown(const std::vector<SweepPoint>& points) {
  if (points.empty()) return "";
  std::vector<double> lrs;
  std::vector<std::string> methods;
  for (const SweepPoint& p : points) {
    if (std::find(lrs.begin(), lrs.end(), p.lr) == lrs.end()) lrs.push_back(p.lr);
    if (std::find(methods.begin(), methods.end(), p.method) == methods.end()) methods.push_back(p.method);
  }
  std::ostringstream md;
  md << "| method |";
  for (double lr : lrs) md << " lr " << lr_text(lr) << " |";
  md << " chosen |\n|---|";
  for (size_t i = 0; i <= lrs.size(); ++i) md << "---:|";
  md << "\n";
  for (const std::string& m : methods) {
    const double chosen = pick_lr(points, m);
    md << "| " << m << " |";
    for (double lr : lrs) {
      auto it = std::find_if(points.begin(), points.end(),
                             [&](const SweepPoint& p) { return p.method == m && p.lr == lr; });
      if (it == points.end()) {
        md << " - |";
        continue;
      }
      const std::string v = fmt("%.1f%%", 100 * it->score);
      md << " " << (lr == chosen ? "**" + v + "**" : v) << " |";
    }
    md << " " << lr_text(chosen) << " |\n";
  }
  return md.str();
}

// ---- the comparison ---------------------------------------------------------------------------

std::string default_compare_dir(const RunConfig& base, const CompareOptions& o) {
  std::string key = dump_yaml(base);
  for (const std::string& m : o.methods) key += "|m:" + m;
  key += "|seeds:" + std::to_string(o.seeds);
  for (double lr : o.lr_sweep) key += "|lr:" + lr_text(lr);
  key += "|sweep_steps:" + std::to_string(o.sweep_steps) + "|sweep_size:" + std::to_string(o.sweep_size);
  char hex[24];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(fnv1a64(key)));
  return path_join(base.run.dir, std::string("compare-") + hex);
}

CompareReport run_compare(const RunConfig& base_in, const CompareOptions& o) {
  POPO_CHECK(!o.methods.empty(), "compare: no method");
  POPO_CHECK(o.seeds >= 1, "--seeds: must be >= 1, got ", o.seeds);
  for (double lr : o.lr_sweep) {
    POPO_CHECK(std::isfinite(lr) && lr > 0, "--lr-sweep: every learning rate must be > 0, got ", lr);
  }
  RunConfig base = base_in;
  apply_overrides(base, o.overrides);
  CompareReport rep;
  rep.out = o.out.empty() ? default_compare_dir(base, o) : o.out;
  if (o.log_info) LOG_INFO("compare: folder ", rep.out, " (the same command continues it)");
  const std::string cache = base.run.cache_dir.empty() ? path_join(base.run.dir, ".cache") : base.run.cache_dir;

  // The config of a method: the base, the method's switches, then the command line again (it
  // wins over the method's defaults).
  auto method_config = [&](const std::string& m) {
    RunConfig c = base;
    apply_overrides(c, compare_method_overrides(m));
    apply_overrides(c, o.overrides);
    c.run.cache_dir = cache;
    return c;
  };
  // The sweep: one run per (sweep method, lr) on a validation split of the training set (data.heldout
  // = "": disjoint from the held-out set), seed trainer.seed, sweep_steps steps.
  std::vector<std::string> sweep_methods;
  for (const std::string& m : o.methods) {
    const std::string s = compare_sweep_method(m);
    if (std::find(sweep_methods.begin(), sweep_methods.end(), s) == sweep_methods.end()) sweep_methods.push_back(s);
  }
  const int64_t sweep_steps = o.sweep_steps > 0 ? o.sweep_steps : std::max<int64_t>(1, base.trainer.optim.steps / 2);
  auto sweep_config = [&](const std::string& m, double lr) {
    RunConfig c = method_config(m);
    c.trainer.optim.lr = lr;
    c.trainer.optim.steps = sweep_steps;
    c.trainer.eval_samples = 1;
    c.trainer.eval_every = 0;
    c.data.heldout = "";
    c.data.heldout_size = o.sweep_size;
    c.run.dir = path_join(path_join(rep.out, "sweep"), m);
    c.run.name = "lr-" + lr_text(lr);
    return c;
  };
  // Validate every config before the first run starts.
  for (const std::string& m : o.methods) validate_run_config(method_config(m));
  POPO_CHECK(!o.sweep_only || !o.lr_sweep.empty(), "--sweep-only needs --lr-sweep");
  if (!o.lr_sweep.empty()) {
    POPO_CHECK(o.sweep_size >= 1, "--sweep-size: must be >= 1, got ", o.sweep_size);
    for (const std::string& m : sweep_methods) {
      for (double lr : o.lr_sweep) validate_run_config(sweep_config(m, lr));
    }
  }
  fs::create_directories(rep.out);

  const int64_t total = static_cast<int64_t>(sweep_methods.size() * o.lr_sweep.size()) +
                        (o.sweep_only ? 0 : static_cast<int64_t>(o.methods.size()) * o.seeds);
  int64_t index = 0;
  enum class Outcome { kFinished, kMissing, kStopped };
  auto run_one = [&](const RunConfig& c, const std::string& what) {
    ++index;
    if (o.stop && o.stop->load()) return Outcome::kStopped;
    if (o.report_only && !path_exists(path_join(path_join(c.run.dir, c.run.name), kDoneFile))) {
      ++rep.runs_missing;  // --report trains nothing
      return Outcome::kMissing;
    }
    bool reused = false;
    if (o.log_info) LOG_INFO("compare: run ", index, "/", total, ": ", what);
    const bool finished = train_or_reuse(c, o, &reused);
    if (reused) {
      ++rep.runs_reused;
      if (o.log_info) LOG_INFO("compare: ", what, ": finished before, reused");
    } else {
      ++rep.runs_trained;
    }
    return finished ? Outcome::kFinished : Outcome::kStopped;
  };

  bool stopped = false;
  std::set<std::string> unswept;  // --report: methods whose sweep is not finished
  for (const std::string& m : sweep_methods) {
    for (double lr : o.lr_sweep) {
      if (stopped) break;
      const RunConfig c = sweep_config(m, lr);
      const Outcome out = run_one(c, "sweep " + m + " lr " + lr_text(lr));
      if (out == Outcome::kStopped) {
        stopped = true;
        break;
      }
      if (out == Outcome::kMissing) {
        unswept.insert(m);
        continue;
      }
      const std::string dir = path_join(c.run.dir, c.run.name);
      const RunSummary s = summarize_run_metrics(path_join(dir, "metrics.jsonl"));
      rep.sweep.push_back(SweepPoint{m, lr, s.final_heldout, dir});
    }
    if (!stopped && !o.lr_sweep.empty() && !unswept.count(m)) rep.lr[m] = pick_lr(rep.sweep, m);
  }
  // Seed-major order (every method's seed s before any method's seed s + 1), so that an
  // interrupted grid has compared every method on the seeds it finished.
  std::vector<RunConfig> method_cfgs;
  for (const std::string& m : o.methods) {
    RunConfig mc = method_config(m);
    if (!o.lr_sweep.empty() && !stopped && !unswept.count(compare_sweep_method(m)))
      mc.trainer.optim.lr = rep.lr.at(compare_sweep_method(m));
    rep.lr[m] = mc.trainer.optim.lr;
    method_cfgs.push_back(mc);
  }
  for (int64_t i = 0; i < o.seeds && !stopped && !o.sweep_only; ++i) {
    for (size_t mi = 0; mi < o.methods.size() && !stopped; ++mi) {
      const std::string& m = o.methods[mi];
      if (unswept.count(compare_sweep_method(m))) {  // --report: its lr is not known yet
        ++rep.runs_missing;
        continue;
      }
      RunConfig c = method_cfgs[mi];
      c.trainer.seed = base.trainer.seed + i;
      c.run.dir = path_join(rep.out, m);
      c.run.name = seed_dir_name(c.trainer.seed);
      const Outcome out = run_one(c, m + " seed " + std::to_string(c.trainer.seed) + " lr " + lr_text(c.trainer.optim.lr));
      if (out == Outcome::kStopped) {
        stopped = true;
        break;
      }
      if (out == Outcome::kMissing) continue;
      const std::string dir = path_join(c.run.dir, c.run.name);
      RunSummary s = summarize_run_metrics(path_join(dir, "metrics.jsonl"));
      s.method = m;
      s.seed = c.trainer.seed;
      s.lr = c.trainer.optim.lr;
      s.run_dir = dir;
      rep.runs.push_back(std::move(s));
    }
  }
  rep.interrupted = stopped;

  // Tables, plots and the summary of what is finished.
  std::ostringstream md;
  md << "# popo compare\n\n" << rep.runs.size() << " finished runs of " << o.methods.size()
     << " methods x " << o.seeds << " seeds" << (stopped ? " (interrupted: rerun the same command to continue)" : "")
     << (rep.runs_missing > 0 ? " (--report: " + std::to_string(rep.runs_missing) + " runs not finished yet)" : std::string())
     << ". Mean ± sample standard deviation over seeds; ** marks a difference from the first "
        "method larger than two standard errors.\n\n"
     << compare_table_markdown(rep.runs);
  const std::string pk = pass_at_k_table_markdown(rep.runs);
  if (!pk.empty()) md << "\n## pass@k at the end of training\n\n" << pk;
  if (!rep.sweep.empty()) {
    md << "\n## Learning-rate sweep\n\nValidation greedy accuracy after " << sweep_steps << " steps on "
       << o.sweep_size << " problems split off the training set (disjoint from the held-out set), seed "
       << base.trainer.seed << "; POPO's ablations use POPO's learning rate.\n\n"
       << sweep_table_markdown(rep.sweep);
  }
  write_file_atomic(path_join(rep.out, "compare.md"), md.str());
  write_compare_plots(rep.runs, rep.out);
  nlohmann::json j = {{"runs", nlohmann::json::array()}, {"sweep", nlohmann::json::array()},
                      {"interrupted", stopped}, {"runs_missing", rep.runs_missing}};
  for (const RunSummary& r : rep.runs) j["runs"].push_back(summary_json(r));
  for (const SweepPoint& p : rep.sweep)
    j["sweep"].push_back({{"method", p.method}, {"lr", p.lr}, {"score", p.score}, {"run_dir", p.run_dir}});
  write_file_atomic(path_join(rep.out, "summary.json"), j.dump(2) + "\n");
  return rep;
}

}  // namespace popo
