// The training plots of a run folder, drawn from its metrics.jsonl (so a resumed run's plots
// cover the whole run): reward, held-out accuracy, entropy and response length against step,
// one SVG with four panels (core/plot.h). Regenerated at each eval and at the end.
#pragma once

#include <string>
#include <vector>

#include "core/plot.h"

namespace popo {

// Returns the series (step, value) of metric key in metrics rows of a metrics.jsonl; rows
// without the key are skipped.
Series metric_series(const std::string& metrics_path, const std::string& key, const std::string& name);

// Writes plots_dir/training.svg (reward, held-out accuracy, entropy, response length vs step).
// Returns the path.
std::string write_training_plots(const std::string& metrics_path, const std::string& plots_dir);

}  // namespace popo
