// `popo compare`: several methods trained on the same task, base model and budget, each with K
// seeds, optionally each at its own learning rate from a short sweep on a validation split, and
// the results as tables (mean ± standard deviation over seeds) and plots (curves with a band).
// A comparison folder holds every run; a finished run is never trained twice (the same command
// run again reuses it, an interrupted run resumes from its last checkpoint).
//
// Layout of a comparison folder:
//   <method>/seed-<s>/         one run folder per method and seed (the trainer's layout)
//   sweep/<method>/lr-<lr>/    one run per swept learning rate (validation split)
//   compare.md                 the tables; compare_curves.svg, pass_at_k.svg, neg_logp_delta.svg
//   summary.json               every run's summary
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "train/train_config.h"

namespace popo {

// ---- methods ----------------------------------------------------------------------------------

// Returns the overrides that turn the default config into method's config: the algorithms
// (popo, grpo, psr, nsr, w_reinforce, raft, rloo; "popo" keeps the config's own POPO options),
// popo-all / popo-positives (the entropy scope), and POPO's ablations, each one switch:
// popo-no-sim (alpha = 0), popo-no-entropy (beta = 0), popo-uniform (uniform weights),
// popo-frozen (tau = 1), popo-tau0 (tau = 0: the siamese is the policy), popo-no-noise
// (sigma = 0). Throws popo::Error listing the known names otherwise.
std::vector<std::string> compare_method_overrides(const std::string& method);

// Returns the known method names of compare_method_overrides.
std::vector<std::string> compare_method_names();

// Returns the methods of a comma-separated list, where "baselines" stands for popo, grpo, psr,
// nsr, w_reinforce, raft, rloo and "ablations" for popo and its six ablations. Throws
// popo::Error on an unknown name, a repeated method or an empty list.
std::vector<std::string> expand_compare_methods(const std::string& list);

// Returns the method whose learning-rate sweep method uses: POPO's ablations take POPO's (each
// switch is studied at POPO's setting, as the paper's ablations); every other method its own.
std::string compare_sweep_method(const std::string& method);

// ---- summaries --------------------------------------------------------------------------------

// What one finished run leaves, read back from its metrics.jsonl (so a resumed run reads the
// same as an uninterrupted one).
struct RunSummary {
  std::string method;
  int64_t seed = 0;
  double lr = 0;
  std::string run_dir;
  int64_t steps = 0;                // last step with a metrics row
  double base_heldout = -1;         // heldout/accuracy at step 0
  double final_heldout = -1;        // at the last evaluation
  double best_heldout = -1;         // the highest of any evaluation
  std::vector<std::pair<int64_t, double>> pass_curve;  // (k, pass@k) of the final evaluation
  double wall_seconds = 0;          // sum of time/step plus the step-0 evaluation
  double mean_update_seconds = 0;   // mean time/update per step
  double mean_rollout_seconds = 0;  // mean time/rollout per step
  double mean_neg_logp_delta = 0;   // mean popo/neg_logp_delta over the steps that measured it
  int64_t neg_logp_steps = 0;       // steps that measured it
};

// Returns the summary of the run whose metrics.jsonl is at metrics_path (method, seed, lr and
// run_dir are left for the caller). Throws popo::Error naming the file if it has no step-0
// evaluation row.
RunSummary summarize_run_metrics(const std::string& metrics_path);

// The mean and the sample standard deviation (n - 1 in the divisor; 0 for one value).
struct MeanSd {
  double mean = 0, sd = 0;
  int64_t n = 0;
};
MeanSd mean_sd(const std::vector<double>& values);

// Returns the markdown table of runs, one row per method (in first-appearance order) with the
// mean ± standard deviation over its seeds of: held-out greedy accuracy at start, end and best;
// pass@1 and pass@k (largest k) of the final sampled evaluation; the end accuracy's difference
// from the first method, marked when it exceeds two standard errors; wall time, update and
// rollout seconds per step, update time relative to GRPO's; the mean popo/neg_logp_delta.
std::string compare_table_markdown(const std::vector<RunSummary>& runs);

// Returns the markdown table of pass@k (mean ± sd over seeds) per method and k.
std::string pass_at_k_table_markdown(const std::vector<RunSummary>& runs);

// ---- learning-rate sweep ----------------------------------------------------------------------

struct SweepPoint {
  std::string method;  // compare_sweep_method of the methods it serves
  double lr = 0;
  double score = 0;    // validation greedy accuracy at the end of the sweep run
  std::string run_dir;
};

// Returns the learning rate of method's best point (highest score; a tie goes to the point
// listed first). Throws popo::Error when method has no point.
double pick_lr(const std::vector<SweepPoint>& points, const std::string& method);

// Returns the markdown table of the sweep: one row per method, one column per learning rate,
// the chosen one in bold.
std::string sweep_table_markdown(const std::vector<SweepPoint>& points);

// ---- the comparison ---------------------------------------------------------------------------

struct CompareOptions {
  std::vector<std::string> methods;    // expand_compare_methods names
  int64_t seeds = 1;                   // runs per method: trainer.seed, trainer.seed + 1, ...
  std::vector<double> lr_sweep;        // learning rates to sweep (empty: every method at trainer.lr)
  int64_t sweep_steps = 0;             // steps of a sweep run (0: half of trainer.steps)
  int64_t sweep_size = 200;            // validation problems split off the training set
  bool sweep_only = false;             // run the sweep and stop (its table in compare.md)
  bool report_only = false;            // train nothing: the tables of the runs finished so far
  std::vector<std::string> overrides;  // key=value for every run, applied after the method's
  std::string out;                     // comparison folder ("" = default_compare_dir)
  const std::atomic<bool>* stop = nullptr;  // set: stop between (or inside) runs, keep what is done
  bool show_progress = true;           // the trainer's progress line
  bool log_info = true;                // the trainer's and the comparison's info lines
  int64_t stop_after_step = -1;        // test hook: a run stops after this step as if interrupted
};

struct CompareReport {
  std::string out;                      // the comparison folder
  std::vector<SweepPoint> sweep;        // every sweep run
  std::map<std::string, double> lr;     // the learning rate of each method's runs
  std::vector<RunSummary> runs;         // every finished run, seed-major (all methods' first seed first)
  int64_t runs_trained = 0;             // runs trained (or resumed) by this call
  int64_t runs_reused = 0;              // finished runs found in the folder and reused
  int64_t runs_missing = 0;             // report_only: runs of the plan not finished yet
  bool interrupted = false;             // the stop flag ended it early
};

// Returns the default comparison folder: <run.dir>/compare-<16 hex digits> of a hash of
// everything that decides the runs (the base config after overrides, the methods, seeds and
// sweep), so the same command finds its own folder again.
std::string default_compare_dir(const RunConfig& base, const CompareOptions& options);

// Runs the comparison: the sweep (when options.lr_sweep is set), then every seed of every method
// (seed-major);
// runs already finished in the folder with the same config are reused, a run with a checkpoint
// but no result is resumed, and a folder of a different config is an error (popo::Error naming
// the folder). Every method's config is validated before the first run. Writes compare.md,
// the plots and summary.json (also after an interruption, with the runs finished so far).
CompareReport run_compare(const RunConfig& base, const CompareOptions& options);

}  // namespace popo
