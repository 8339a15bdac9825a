// Data-parallel collectives for one training run: rendezvous through a c10d TCPStore (rank 0
// hosts it), then one c10d process group: Gloo for CPU tensors, NCCL for CUDA tensors where the
// libtorch build has it. Mirrors torchrun's environment convention and the flat-bucket gradient
// all-reduce of torch.nn.parallel.DistributedDataParallel (without its module wrapper).
// Not here: sharding data across ranks, model/tensor parallelism, multi-node launching (see
// dist/launch.h for spawning local ranks). World size 1 makes every call a no-op.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <memory>
#include <string>
#include <vector>

namespace popo {

struct DistConfig {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  int timeout_s = 300;           // per collective and for the rendezvous
  std::string backend = "auto";  // auto | gloo | nccl
};

// Returns the config described by the torchrun variables RANK, WORLD_SIZE, LOCAL_RANK,
// MASTER_ADDR, MASTER_PORT and POPO_DIST_TIMEOUT (seconds) / POPO_DIST_BACKEND. Without
// WORLD_SIZE the run is a single process. Throws popo::Error naming the variable for malformed
// or inconsistent values (RANK outside [0, WORLD_SIZE), port outside 1..65535, ...).
DistConfig dist_config_from_env();

// One process group for the run. Every rank must make the same calls in the same order.
// A collective that fails because a peer died or stopped answering throws popo::Error within
// about timeout_s; the group is unusable afterwards (every later call throws the same error).
class Dist {
 public:
  struct Impl;
  // Returns a group joined by all world_size ranks: rank 0 hosts a TCPStore on
  // master_addr:master_port, the others connect to it (each waits at most timeout_s).
  // backend "auto" picks NCCL for a CUDA device when built with it, else Gloo (CUDA tensors are
  // then staged through host memory). Throws popo::Error if the backend is not in this build.
  static std::shared_ptr<Dist> create(const DistConfig& cfg, c10::Device device);
  ~Dist();
  Dist(const Dist&) = delete;
  Dist& operator=(const Dist&) = delete;

  // Returns this process's rank in [0, world_size).
  int rank() const;
  // Returns the number of ranks.
  int world_size() const;
  // Returns true on rank 0 (the rank that writes checkpoints, logs and metrics).
  bool is_main() const;
  // Returns the name of the backend in use: "none" (world size 1), "gloo" or "nccl".
  std::string backend() const;
  // Returns the device the group was created for.
  c10::Device device() const;

  // Sums each tensor across ranks, in place. Tensors may differ in shape, dtype and device;
  // they are packed into flat buckets (one collective per bucket).
  void all_reduce_sum(std::vector<at::Tensor>& tensors);
  // Returns the sum of x over all ranks (global token counts, rewards, ...), computed in double.
  double all_reduce_sum(double x);
  // Overwrites each tensor with root's copy, in place.
  void broadcast(std::vector<at::Tensor>& tensors, int root = 0);
  // Returns once every rank has called barrier().
  void barrier();
  // Gathers every rank's in (flat, the same numel n and dtype on every rank) into out (flat,
  // world_size * n): rank r's values at [r n, (r + 1) n). Both on the group's device.
  void all_gather(const at::Tensor& in, at::Tensor& out);
  // Sums in (flat, world_size * n) over the ranks and writes this rank's part of the sum,
  // [rank n, (rank + 1) n), into out (flat, n). NCCL: reduce_scatter. Gloo (libtorch 1.13's has
  // no reduce_scatter): an all-reduce of in, then the slice, so CPU runs take the same path.
  // in is left unspecified.
  void reduce_scatter_sum(at::Tensor& in, at::Tensor& out);
  // Sums (average=false) or averages the .grad of params across ranks in flat buckets of at most
  // bucket_mb MiB, in place. A parameter without a grad gets zeros first, so every rank takes
  // part in every collective and all ranks end with identical .grad for every parameter.
  void all_reduce_gradients(const std::vector<at::Tensor>& params, bool average,
                            double bucket_mb = 25.0);

 private:
  explicit Dist(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace popo
