// The method comparison of `popo compare`: the per-method config overrides (equal to
// configs/<method>.yaml), the markdown table and the learning-curve SVG of several finished runs.
#pragma once

#include <string>
#include <vector>

#include "train/train_config.h"
#include "train/trainer.h"

namespace popo {

// One finished run of a comparison.
struct CompareEntry {
  std::string method;
  RunConfig config;
  TrainResult result;
};

// Returns the overrides that turn the default config into method's config: "popo" (the
// config's own POPO options; the demo's entropy_on=positives), "popo-all" (entropy_on=all,
// POPO.md's default), "popo-positives", "grpo", "psr", "raft", "rloo", "nsr", "w_reinforce".
// Throws popo::Error listing the known names otherwise.
std::vector<std::string> compare_method_overrides(const std::string& method);

// Returns the known method names of compare_method_overrides.
std::vector<std::string> compare_method_names();

// Returns the markdown table: one row per method with held-out greedy accuracy at start, end and
// best, pass@k at the end, wall time, mean update and rollout seconds per step, and the update
// time relative to GRPO's when GRPO is among the entries.
std::string compare_table_markdown(const std::vector<CompareEntry>& entries);

// Writes one SVG with two panels (held-out accuracy and mean reward vs step, one curve per
// method) read from each run's metrics.jsonl.
void write_compare_curves_svg(const std::vector<CompareEntry>& entries, const std::string& path);

}  // namespace popo
