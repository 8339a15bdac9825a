// Data parallelism for the trainer: each rank samples the rollouts of a contiguous shard of the
// step's prompts (whole groups stay on one rank), the learner's step-global normalisers and
// additive loss metrics are summed over ranks before they are used, and the gradients are summed
// (not averaged: every loss term is already divided by a global normaliser), so a step on W ranks
// equals the step of one process on the whole batch up to float summation order. Replicas stay
// identical (same initial weights, same reduced gradient, deterministic AdamW and momentum
// update); replicas_identical() checks it cheaply with a checksum.
// Mirrors torch DistributedDataParallel's contract (identical replicas, gradient all-reduce) but
// with sum semantics and without its module wrapper. Not here: overlapping the all-reduce with
// backward (the learner's micro-batch loop reduces once after the last backward), sharded
// optimizer state, model parallelism. Process groups and launching live in src/dist.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dist/dist.h"

namespace popo {

class Learner;

struct PromptShard {
  int64_t begin = 0;  // first prompt of this rank (index into the step's prompt list)
  int64_t end = 0;    // one past the last
};

// Returns rank's contiguous shard of a step of num_prompts prompts. Throws popo::Error when
// num_prompts is not divisible by world_size (names trainer.prompts_per_step).
PromptShard prompt_shard(int64_t num_prompts, int world_size, int rank);

// Returns the process group of this run from the torchrun variables (dist_config_from_env), or
// nullptr for a single process (no WORLD_SIZE, or WORLD_SIZE=1). For a CUDA device the rank uses
// cuda:LOCAL_RANK and *device is updated; Gloo serves CPU, NCCL CUDA (backend "auto").
std::shared_ptr<Dist> make_run_dist(c10::Device* device);

// Installs the learner's data-parallel hooks on dist: normalisers (sums; max_len by max),
// scalars, additive loss metrics, and bucketed gradient sums (bucket_mb MiB per bucket).
void attach_data_parallel(Learner& learner, std::shared_ptr<Dist> dist, double bucket_mb = 25.0);

// Returns the concatenation over ranks of values: every rank passes its own rows, placed at
// offset within a vector of total entries (the rest are 0 on this rank), summed over ranks.
std::vector<double> all_gather_rows(Dist& dist, const std::vector<double>& values, int64_t offset,
                                    int64_t total);

// Returns every rank's text (index = rank): lengths gathered, then the padded bytes.
std::vector<std::string> all_gather_text(Dist& dist, const std::string& text);

// Returns one value per rank (index = rank) of x.
std::vector<double> all_gather_scalar(Dist& dist, double x);

// Returns rank 0's value of x on every rank.
int64_t broadcast_int(Dist& dist, int64_t x);

// Returns a checksum of params: (sum of values, sum of squares) in double; equal replicas give
// equal checksums bit for bit.
std::pair<double, double> params_checksum(const std::vector<at::Tensor>& params);

// Throws popo::Error naming `what` and the step if the checksum of params differs between ranks
// (replicas drifted apart). Every rank must call it at the same point.
void check_replicas_identical(Dist& dist, const std::vector<at::Tensor>& params,
                              const std::string& what, int64_t step);

}  // namespace popo
