// The learner: one optimizer step of any algorithm on a RolloutBatch. Micro-batched forward /
// backward with gradient accumulation under step-global normalisers (losses.h), so the gradient
// does not depend on micro_batch_size; AdamW (decay on matrices only, as HF Trainer), warmup +
// cosine | constant learning rate (HF get_*_schedule_with_warmup), clip by global norm, a skip
// on non-finite loss or gradient norm, and POPO's siamese momentum update after the step.
// Per-token log-probs come from token_logprobs() (chunked: no full fp32 logits).
// Mixed precision: bf16/fp16 parameters get fp32 master copies; AdamW (fp32 states), clipping
// and the siamese update read the masters, and the model's parameters are rounded copies of them
// after each step (an fp32 model trains its own parameters, no copies). A bf16/fp16 siamese
// network has fp32 masters too: the EMA runs on them (a bf16 EMA with tau 0.995 rounds away,
// tests/fixtures/popo-reference case C) and the siamese weights are their roundings.
// Clipping reads the policy's gradients only; the predictor's are neither clipped nor counted in
// grad_norm, and every predictor parameter is decayed (as the POPO reference code).
// Not here: sampling, rewards, data parallelism (the two hooks below let src/dist plug in).
// Dims: N rollouts, P prompt width, R response width, C hidden, m rollouts of a micro-batch.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/optim/adamw.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/causal_lm.h"
#include "rl/algo_config.h"
#include "rl/losses.h"
#include "rl/momentum.h"
#include "rl/predictor.h"
#include "sampling/rollout_batch.h"
#include "train/optim_config.h"

namespace popo {

// What the learner reads beyond the algorithm and the optimizer: the trainer section's update
// options as they were loaded, and three values of the run that other sections own.
struct LearnerConfig {
  UpdateConfig update;          // trainer.micro_batch_size, trainer.logprob_chunk_tokens
  double temperature = 1.0;     // sampling.temperature (1 when greedy): log-probs of softmax(logits / T)
  int64_t response_budget = 0;  // sampling.max_new_tokens: the constant divisor of
                                // seq-mean-token-sum-norm when grpo.loss_agg_max_len = 0
  uint64_t seed = 0;            // seed of POPO's target noise eps (derived from trainer.seed)
  int zero_stage = 0;           // dist.zero_stage: 0 replicates the optimizer state; 1, 2 shard it
                                // (train/zero.h) once shard_optimizer() is called
};

struct LearnerStep {
  bool skipped = false;                     // true: non-finite loss or grad norm, no update made
  std::map<std::string, double> metrics;  // loss terms, entropy, grad_norm, lr, clip fracs, KLs
};

class ZeroOptimizer;
class Dist;

class Learner {
 public:
  // policy: trained network. predictor: h_phi (trained with the policy; may be nullptr unless
  // algo.needs_predictor()). siamese: POPO's momentum network (needed when algo.needs_siamese();
  // start it as a copy of policy). reference: frozen network for the PG path's KL (needed when
  // algo.needs_reference()). optim.steps is the schedule length. Validates algo with the batch group size at
  // each step; throws popo::Error when a needed network is missing.
  Learner(CausalLM policy, Predictor predictor, const AlgoConfig& algo, const OptimConfig& optim,
          const LearnerConfig& cfg, CausalLM siamese = nullptr, CausalLM reference = nullptr);

  // Returns the per-rollout coefficients (N) float32 for cfg.name: for popo with softmax
  // weights the length-normalised log-probs l(a) come from a no-grad forward of the current
  // policy over the positives. rewards: (N) float.
  at::Tensor coefficients(const RolloutBatch& batch, const at::Tensor& rewards);

  // Returns the length-normalised log-probs l(a) = mean over response tokens of
  // log pi_theta(a_t | ...) at the learner's temperature of the batch rows `rows` (k) int64 under
  // the current policy: no grad, micro-batched, (k) float32 on the CPU. The softmax weights and
  // the trainer's popo/neg_logp_delta read it.
  at::Tensor sequence_logps(const RolloutBatch& batch, const at::Tensor& rows);

  // Zeroes the gradients, then runs every micro-batch forward/backward, leaving the summed
  // gradient of the step loss (not reduced across ranks, not clipped) in .grad of the optimizer
  // tensors: an fp32 parameter's own, a bf16/fp16 parameter's fp32 master (master_weights(); the
  // micro-batches are summed in fp32), or the sharded optimizer's slices (dist.zero_stage >= 1).
  // Returns the metrics of the loss (additive shares summed over micro-batches).
  std::map<std::string, double> accumulate_gradients(const RolloutBatch& batch,
                                                     const at::Tensor& rewards,
                                                     const at::Tensor& coef);

  // Returns the result of one full optimizer step: accumulate_gradients, reduce_gradients hook,
  // clip, learning rate of this step, AdamW step, momentum update of the siamese (popo), and the
  // metrics (plus grad_norm, lr, popo/tau, popo/positive_ratio, popo/kl_to_siamese every
  // popo.kl_every steps). A non-finite loss or gradient norm skips the update (skipped = true,
  // gradients zeroed, step counter unchanged).
  LearnerStep step(const RolloutBatch& batch, const at::Tensor& rewards, const at::Tensor& coef);

  // Returns the learning rate of optimizer step k (0-based): lr * k / warmup during warmup, then
  // cosine 0.5 (1 + cos(pi progress)) or constant; as HF's schedulers.
  double lr_at(int64_t k) const;
  // Returns the number of optimizer steps taken (the next step's index).
  int64_t steps_done() const { return steps_; }
  void set_steps_done(int64_t steps) { steps_ = steps; }
  // Returns the trained parameters of the models: policy then predictor (gradients land here).
  std::vector<at::Tensor> trainable_parameters() const;
  // Returns the fp32 master copies the optimizer updates, one per bf16/fp16 trainable parameter
  // in trainable_parameters() order (empty when every parameter is fp32 or fp64).
  std::vector<at::Tensor> master_weights() const;
  // Returns the model parameters the master_weights() shadow (same order and length).
  std::vector<at::Tensor> mastered_parameters() const;
  // Returns the fp32 masters of a bf16/fp16 siamese network (siamese parameters() order; empty
  // for an fp32 siamese or none) and the siamese parameters they shadow.
  const std::vector<at::Tensor>& siamese_master_weights() const { return siamese_masters_; }
  std::vector<at::Tensor> siamese_mastered_parameters() const;
  torch::optim::AdamW& optimizer() { return *optimizer_; }
  // The bytes of each kind of training state this process holds, measured from its tensors:
  // param (the policy's parameters and adapters, the predictor's), grad (.grad of the trained
  // tensors, the fp32 accumulators or slices), optimizer_state (AdamW moments), master (fp32
  // masters or their slice), siamese (the siamese's own tensors and its fp32 masters or slice).
  struct StateBytes {
    double param = 0, grad = 0, optimizer_state = 0, master = 0, siamese = 0;
  };
  StateBytes state_bytes() const;
  // dist.zero_stage >= 1: shards the fp32 masters, the AdamW moments (and at stage 2 the
  // gradients) and the siamese's fp32 masters over dist's ranks (null: one process); the
  // learner then neither keeps whole masters nor steps the torch optimizer. Call once, before
  // the first step, on every rank.
  void shard_optimizer(std::shared_ptr<Dist> dist, double bucket_mb = 25.0);
  // The sharded optimizer (null at stage 0).
  ZeroOptimizer* zero() const { return zero_.get(); }
  MomentumSchedule& momentum() { return momentum_; }

  // Data-parallel hooks (unset = single process): sum the normalisers over ranks before the
  // micro-batch loop; all-reduce (average semantics chosen by the caller) the accumulated
  // gradients before clipping. The loss is a sum of shares of global normalisers, so the hook
  // must SUM gradients over ranks.
  std::function<void(StepNormalizers&)> reduce_normalizers;
  std::function<void(const std::vector<at::Tensor>&)> reduce_gradients;
  // Sums each value over ranks in place (the k3 KL sum and token count of kl_to_siamese, so the
  // adaptive momentum law sees the same KL on every rank).
  std::function<void(std::vector<double>&)> reduce_scalars;
  // Sums the additive loss metrics of accumulate_gradients over ranks (before the finite check,
  // so every rank skips or steps together).
  std::function<void(std::map<std::string, double>&)> reduce_metrics;
  // This process holds rollout rows [row_offset, row_offset + N) of a step of global_rows rows
  // (data parallel; default: all rows). POPO's target noise is drawn for the global rows and
  // sliced, so it does not depend on how the rows are split over ranks.
  void set_row_shard(int64_t row_offset, int64_t global_rows) {
    row_offset_ = row_offset;
    global_rows_ = global_rows;
  }

 private:
  // step() of dist.zero_stage >= 1 (the sharded optimizer).
  LearnerStep sharded_step(const RolloutBatch& batch, const at::Tensor& rewards, const at::Tensor& coef);
  // Adds each bf16/fp16 parameter's .grad into its fp32 master's .grad and zeroes it (after
  // every micro-batch's backward: the step's gradient is summed in fp32).
  void accumulate_into_masters();
  // Returns the clipping bound of the policy's gradient norm (infinity when trainer.grad_clip = 0).
  double max_grad_norm() const;
  // Records grad_norm, lr, popo/positive_ratio and frac_zero_std_groups of the step in out and
  // returns this step's learning rate; a non-finite loss or gradient norm sets out.skipped (warned).
  double record_step(LearnerStep& out, const at::Tensor& rewards, int64_t group_size, double grad_norm,
                     double pred_norm);
  // Feeds the step's KL to the momentum law (after step 0), records popo/tau and returns tau.
  double siamese_tau(std::map<std::string, double>& metrics);
  // Warns once per process when the step's mean entropy is below 0.5.
  void warn_low_entropy(std::map<std::string, double>& metrics) const;
  // Returns the LM head weight (V, C) (the embedding matrix when tied).
  at::Tensor lm_head_weight(CausalLM& model) const;
  // Returns the indices of the rows the policy forwards (algo.forward_rows()).
  at::Tensor forward_rows(const at::Tensor& positive) const;

  CausalLM policy_, siamese_, reference_;
  Predictor predictor_;
  AlgoConfig algo_;
  OptimConfig optim_;
  LearnerConfig cfg_;
  MomentumSchedule momentum_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  // Parallel to trainable_parameters(): the fp32 master of a bf16/fp16 parameter, else the
  // parameter itself (the optimizer's parameters).
  std::vector<at::Tensor> opt_params_;
  bool has_masters_ = false;
  std::vector<at::Tensor> siamese_masters_;  // fp32 masters of a bf16/fp16 siamese (else empty)
  int64_t steps_ = 0;
  int64_t row_offset_ = 0, global_rows_ = 0;  // 0 global rows: this batch is the whole step
  std::shared_ptr<ZeroOptimizer> zero_;  // dist.zero_stage >= 1
};

}  // namespace popo
