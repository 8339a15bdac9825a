// Training plots from metrics.jsonl.
#include "train/train_plots.h"

#include <nlohmann/json.hpp>

#include "core/io.h"
#include "core/metrics.h"

namespace popo {

namespace {

Series series_from_rows(const std::vector<nlohmann::json>& rows, const std::string& key,
                        const std::string& name) {
  Series s;
  s.name = name;
  for (const auto& r : rows) {
    if (!r.contains(key) || !r.contains("step") || !r.at(key).is_number()) continue;
    s.x.push_back(r.at("step").get<double>());
    s.y.push_back(r.at(key).get<double>());
  }
  return s;
}

}  // namespace

Series metric_series(const std::string& metrics_path, const std::string& key, const std::string& name) {
  return series_from_rows(read_metrics(metrics_path), key, name);
}

std::string write_training_plots(const std::string& metrics_path, const std::string& plots_dir) {
  const auto rows = read_metrics(metrics_path);
  std::vector<PlotSpec> panels;
  panels.push_back({"Reward", "step", "mean reward",
                    {series_from_rows(rows, "reward/mean", "reward"),
                     series_from_rows(rows, "reward/pass_rate", "pass rate (any of G)")}});
  panels.push_back({"Held-out accuracy", "step", "accuracy",
                    {series_from_rows(rows, "heldout/accuracy", "greedy"),
                     series_from_rows(rows, "heldout/pass_at_k", "pass@k")}});
  panels.push_back({"Entropy", "step", "mean token entropy (nats)",
                    {series_from_rows(rows, "entropy", "entropy")}});
  panels.push_back({"Response length", "step", "tokens",
                    {series_from_rows(rows, "response/length_mean", "mean"),
                     series_from_rows(rows, "response/length_max", "max")}});
  for (auto& p : panels) {
    std::vector<Series> kept;
    for (auto& s : p.series) {
      if (!s.x.empty()) kept.push_back(std::move(s));
    }
    p.series = std::move(kept);
  }
  const std::string path = path_join(plots_dir, "training.svg");
  write_plot_grid_svg(path, panels, /*columns=*/2);
  return path;
}

}  // namespace popo
