// The optimizer and update options of a run: plain structs with field tables, embedded in the
// `trainer` section of the run config (train_config.h) by calling their visit_fields from the
// section's own, so their keys are trainer.lr, trainer.micro_batch_size, ... and the Learner
// (learner.h) reads the very structs the config loaded. Torch-free on purpose.
#pragma once

#include <cstdint>
#include <vector>

namespace popo {

// trainer.schedule: the learning rate after warmup (HF get_*_schedule_with_warmup).
enum class LrSchedule : int { kCosine, kConstant };
const std::vector<const char*>& enum_names(LrSchedule);

// AdamW, the learning-rate schedule and clipping. Defaults are HF Trainer's / the POPO
// reference's; the demo's trainer section sets its own (train_config.h).
struct OptimConfig {
  int64_t steps = 1;                          // optimizer steps of the run (schedule length; >= 1)
  double lr = 1e-6;                           // peak learning rate
  double warmup_ratio = 0.1;                  // share of the steps with linear warmup from 0; 0 disables
  LrSchedule schedule = LrSchedule::kCosine;  // cosine (to 0 after warmup) | constant (after warmup)
  double weight_decay = 0.01;                 // AdamW decay on the policy's >= 2-D parameters; 0 disables
  double adam_beta1 = 0.9;                    // AdamW beta1
  double adam_beta2 = 0.999;                  // AdamW beta2
  double adam_eps = 1e-8;                     // AdamW epsilon
  double grad_clip = 1.0;                     // max global grad norm of the policy; 0 disables (norm still logged)

  template <class V>
  void visit_fields(V& v) {
    v("steps", steps, "optimizer steps (one rollout batch each)");
    v("lr", lr, "peak learning rate (AdamW)");
    v("warmup_ratio", warmup_ratio, "share of steps with linear warmup (0 = none)");
    v("schedule", schedule, "learning-rate schedule after warmup: cosine | constant");
    v("weight_decay", weight_decay, "AdamW weight decay (0 = off)");
    v("adam_beta1", adam_beta1, "AdamW beta1 (0.9)");
    v("adam_beta2", adam_beta2, "AdamW beta2 (0.999)");
    v("adam_eps", adam_eps, "AdamW epsilon (1e-8)");
    v("grad_clip", grad_clip, "max global gradient norm (0 = off)");
  }
};

// How the update is computed; the result does not depend on either value.
struct UpdateConfig {
  int64_t micro_batch_size = 4;         // rollouts per forward/backward (gradient accumulation)
  int64_t logprob_chunk_tokens = 2048;  // tokens per chunk of the LM head (memory: chunk x V fp32)

  template <class V>
  void visit_fields(V& v) {
    v("micro_batch_size", micro_batch_size, "rollouts per forward/backward");
    v("logprob_chunk_tokens", logprob_chunk_tokens,
      "tokens per chunk of the LM-head log-softmax (peak memory chunk x vocab floats)");
  }
};

}  // namespace popo
