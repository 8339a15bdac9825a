// ZeRO-style sharding of the learner's optimizer state over the data-parallel ranks (Rajbhandari
// et al. 2020, the scheme torch's FSDP and DeepSpeed run on), built on the run's c10d group
// (dist/dist.h). `dist.zero_stage`:
//   1  the fp32 master weights and the AdamW moments are sharded: each rank keeps and updates
//      a 1/W slice; the gradients are accumulated whole in fp32 and summed over ranks, then each
//      rank takes its slice; the updated masters are all-gathered into the parameters.
//   2  also the gradients: after every micro-batch's backward the parameters' .grad is
//      reduce-scattered bucket by bucket into this rank's fp32 gradient slice (and zeroed), so no
//      rank holds the whole fp32 gradient.
// (Stage 0 is the learner's replicated path, not this class.) The POPO siamese's fp32 masters
// are sharded the same way: each rank runs the EMA on its slice and the siamese weights are
// all-gathered.
//
// Layout: the trained tensors (policy then predictor, learner order) are one flat index space of
// N elements, padded to W * S with S = ceil(N / W); rank r owns [r S, (r + 1) S). Any N and W
// work, a slice may lie inside one tensor or span many, and the padding is zeros that never
// reach a parameter. Collectives move at most bucket_mb MiB per rank at a time.
// Dims: N trained elements, W ranks, S = ceil(N / W) slice length.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "train/optim_config.h"

namespace popo {

class Dist;

class ZeroOptimizer {
 public:
  // params: the trained tensors (their values initialise the fp32 masters); decay[i]: AdamW weight
  // decay applies to params[i]; the first n_policy are the policy's (clipped, and what the
  // siamese follows). siamese: the siamese network's tensors parallel to params[0, n_policy)
  // (empty: no EMA). dist: the group (null = one process). stage 1 or 2.
  ZeroOptimizer(std::vector<at::Tensor> params, std::vector<bool> decay, size_t n_policy,
                std::vector<at::Tensor> siamese, const OptimConfig& optim, int stage,
                std::shared_ptr<Dist> dist, double bucket_mb = 25.0);

  int stage() const { return stage_; }
  // Adds every parameter's .grad into the fp32 gradient (stage 1: the whole accumulator; stage 2:
  // reduce-scattered into this rank's slice) and zeroes .grad. Stage 2: every rank must call it
  // the same number of times (a collective per bucket).
  void accumulate();
  // Returns the largest n over the ranks (the micro-batch count stage 2 aligns on).
  int64_t max_over_ranks(int64_t n) const;
  // Stage 1: sums the fp32 accumulator over the ranks and keeps this rank's slice. Stage 2: nothing.
  void finish_gradients();
  // Returns the global 2-norms of the policy's and of the predictor's gradients.
  std::pair<double, double> grad_norms() const;
  // Multiplies the policy's part of the gradient slice by c (clipping).
  void scale_policy_grad(double c);
  // Zeroes the gradient slice and accumulator (a skipped step).
  void zero_grad();
  // One AdamW step (torch's formula, per element) on this rank's slice at learning rate lr, then
  // the updated masters are all-gathered into the parameters (rounded to their dtype).
  void step(double lr);
  // xi <- tau xi + (1 - tau) theta on this rank's slice of the siamese fp32 masters, theta the
  // policy's masters after step(); then the siamese weights are all-gathered. tau >= 1: nothing.
  void siamese_ema(double tau);

  // Writes the optimizer state to the safetensors file path as whole, unpadded flat fp32
  // tensors (master, exp_avg, exp_avg_sq, siamese_master when there is one) and adam_steps
  // (int64, 1 element): a form that does not depend on the world size. Every rank must call it
  // (the slices are broadcast piece by piece, in global order); only the rank that passes a
  // non-empty path writes, streaming the pieces to the file, so no rank ever holds a whole
  // vector.
  void write_state(const std::string& path) const;
  // Reads this rank's slices from a file of write_state (of any world size), reading only the
  // bytes of the slices. Throws popo::Error naming the file and the entry when one is missing or
  // has the wrong size.
  void load_state(const std::string& path);

  // The bytes this rank holds of each kind (for memory/*_bytes).
  int64_t master_bytes() const;
  int64_t optimizer_state_bytes() const;  // AdamW moments
  int64_t grad_bytes() const;             // fp32 accumulator (stage 1) or slice (stage 2)
  int64_t siamese_master_bytes() const;

  int64_t total() const { return total_; }
  int64_t slice() const { return slice_; }
  int64_t adam_steps() const { return adam_steps_; }

 private:
  // Copies src (flat, the global range [g0, g0 + src.numel())) into the tensors ts (flat layout
  // offsets_; elements at or past limit are skipped).
  void scatter_to(const at::Tensor& src, int64_t g0, const std::vector<at::Tensor>& ts, int64_t limit) const;
  // Returns the flat fp32 values of the global range [g0, g0 + n) of ts (or of their .grad when
  // grads), zeros past limit.
  at::Tensor gather_from(int64_t g0, int64_t n, const std::vector<at::Tensor>& ts, bool grads, int64_t limit) const;
  // All-gathers slice (S) chunk by chunk into the tensors ts (elements < limit).
  void all_gather_into(const at::Tensor& slice, const std::vector<at::Tensor>& ts, int64_t limit) const;
  int64_t bucket_elems() const;

  std::vector<at::Tensor> params_, siamese_;
  std::vector<int64_t> offsets_;  // global offset of params_[i]
  int64_t total_ = 0, policy_total_ = 0, slice_ = 0, begin_ = 0;
  int world_ = 1, rank_ = 0, stage_ = 1;
  OptimConfig optim_;
  std::shared_ptr<Dist> dist_;
  double bucket_mb_;
  struct Run {
    int64_t begin, end;  // [begin, end) of the slice
    bool decay;          // AdamW weight decay applies
  };
  std::vector<Run> runs_;  // the slice's elements that belong to a tensor, by decay flag
  at::Tensor master_, exp_avg_, exp_avg_sq_, grad_, siamese_master_;  // (S) fp32
  at::Tensor accum_;  // (W S) fp32, stage 1 only: the whole accumulator (grad_ views this rank's part)
  int64_t adam_steps_ = 0;
};

}  // namespace popo
