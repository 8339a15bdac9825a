// The RL training loop of `popo train`. One step:
//   1. take prompts_per_step prompts from the shuffled training order (data cursor)
//   2. sample G rollouts per prompt with the current policy (sampling/generate.h)
//   3. reward each rollout with the math verifier (1 correct, 0 otherwise)
//   4. per-rollout weights / advantages and the micro-batched update (rl/learner.h)
//   5. momentum update of the siamese network (POPO)
//   6. one metrics.jsonl row; held-out eval every trainer.eval_every steps; checkpoint every
//      trainer.save_every steps and at the end (rl/checkpoint.h)
// Run folder: config.resolved.yaml, metrics.jsonl, checkpoints/, eval/ tables, plots/*.svg.
// Every random stream of a step is derived from (trainer.seed, step), so a resumed run repeats
// an uninterrupted one bit for bit on CPU with a fixed thread count.
// Data parallel (torchrun variables set, WORLD_SIZE > 1; rl/data_parallel.h): each rank samples a
// contiguous shard of the step's prompts; normalisers, gradients and metrics are summed over
// ranks; rank 0 alone writes the run folder and runs the held-out eval (the others wait).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "train/train_config.h"

namespace popo {

struct TrainOptions {
  std::string resume_dir;                // run folder to continue from its latest checkpoint
  const std::atomic<bool>* stop = nullptr;  // when set between steps: checkpoint and return
  int64_t stop_after_step = -1;          // test hook: stop as if interrupted after this step
  bool show_progress = true;             // progress bar / lines on stderr
  bool log_info = true;                  // start-up and eval lines on stderr
};

struct TrainResult {
  std::string run_dir;
  int64_t steps_done = 0;         // optimizer steps done at return (resumed steps included)
  bool interrupted = false;       // stopped by the flag before trainer.steps
  double base_heldout = -1;       // held-out greedy accuracy before the first step
  double final_heldout = -1;      // at the last evaluation
  double best_heldout = -1;
  double final_pass_at_k = -1;    // pass@k at the last evaluation (trainer.eval_samples > 1)
  int64_t pass_k = 1;
  double wall_seconds = 0;        // of this invocation (set-up included)
  double train_seconds = 0;       // rollout + reward + update time of this invocation
  double mean_update_seconds = 0; // mean update phase per step of this invocation
  double mean_rollout_seconds = 0;
  double first_reward = 0;        // mean reward of the first step of this invocation
  double last_reward = 0;         // mean reward of its last step
  std::vector<std::pair<int64_t, double>> heldout_curve;  // (step, greedy accuracy)
  std::vector<std::pair<int64_t, double>> reward_curve;   // (step, mean reward)
  // (j, pass@j) at the final evaluation for j = 1, 2, 4, ... and k = trainer.eval_samples, from
  // the same k samples per problem (unbiased estimator); metrics rows hold heldout/pass_at_<j>.
  std::vector<std::pair<int64_t, double>> pass_curve;
};

// Runs (or resumes) training as cfg says and returns the summary. Throws popo::Error for a bad
// config before any work starts (validate_run_config).
TrainResult run_training(const RunConfig& cfg, const TrainOptions& opts);

// Returns the config stored in a run folder (config.resolved.yaml) with overrides applied.
RunConfig load_run_config(const std::string& run_dir, const std::vector<std::string>& overrides);

}  // namespace popo
