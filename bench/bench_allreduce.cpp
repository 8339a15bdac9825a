// All-reduce bandwidth of popo::Dist for 1 MB .. 256 MB float32 tensors on 2 local ranks
// (this program re-executes itself as the ranks through popo::launch_ranks). Gloo on CPU;
// NCCL on CUDA when the build has it and 2 GPUs are visible (--device cuda). Prints one markdown
// table from rank 0: time per all-reduce, algorithm bandwidth (bytes / time) and bus bandwidth
// (2 (n-1)/n x algbw, the nccl-tests convention), next to a local memcpy of the same size as the
// baseline for what one pass over the data costs on this machine.
// Usage: bench_allreduce [--device cpu|cuda] [--max-mb 256] [--nproc 2]
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "dist/dist.h"
#include "dist/launch.h"

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void sync(const c10::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize(d.index());
}

// Returns seconds per call of fn: one warm-up, then repeats until 0.5 s or 20 calls. Every rank
// must run the same number of iterations, so the count is decided by rank 0 and broadcast.
template <class Fn>
double time_it(popo::Dist& dist, const c10::Device& dev, Fn fn) {
  fn();
  sync(dev);
  double t0 = now_s();
  fn();
  sync(dev);
  double one = now_s() - t0;
  int iters = static_cast<int>(std::min(20.0, std::max(2.0, 0.5 / std::max(one, 1e-6))));
  std::vector<at::Tensor> n{torch::full({1}, static_cast<double>(iters), torch::kFloat64)};
  dist.broadcast(n, /*root=*/0);
  iters = static_cast<int>(n[0].item<double>());
  t0 = now_s();
  for (int i = 0; i < iters; ++i) fn();
  sync(dev);
  return (now_s() - t0) / iters;
}

int run_rank(const std::string& device_name, int max_mb) {
  popo::DistConfig cfg = popo::dist_config_from_env();
  c10::Device dev = device_name == "cuda" ? c10::Device(c10::kCUDA, cfg.local_rank)
                                          : c10::Device(c10::kCPU);
  auto dist = popo::Dist::create(cfg, dev);
  const int n = dist->world_size();
  if (dist->is_main()) {
    std::printf("| size | backend | all_reduce ms | algbw GB/s | busbw GB/s | memcpy GB/s |\n");
    std::printf("|---:|---|---:|---:|---:|---:|\n");
  }
  for (int mb = 1; mb <= max_mb; mb *= 4) {
    const int64_t numel = static_cast<int64_t>(mb) * 1024 * 1024 / 4;
    std::vector<at::Tensor> ts{torch::ones({numel}, torch::dtype(torch::kFloat32).device(dev))};
    double t = time_it(*dist, dev, [&] { dist->all_reduce_sum(ts); });
    at::Tensor src = torch::ones({numel}, torch::dtype(torch::kFloat32).device(dev));
    at::Tensor dst = torch::empty_like(src);
    double tc = time_it(*dist, dev, [&] { dst.copy_(src); });
    const double bytes = static_cast<double>(numel) * 4;
    if (dist->is_main()) {
      double algbw = bytes / t / 1e9;
      std::printf("| %d MB | %s | %.2f | %.3f | %.3f | %.2f |\n", mb, dist->backend().c_str(),
                  t * 1e3, algbw, algbw * 2.0 * (n - 1) / n, bytes / tc / 1e9);
      std::fflush(stdout);
    }
  }
  dist->barrier();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string device = "cpu";
  int max_mb = 256, nproc = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--device") device = argv[i + 1];
    else if (a == "--max-mb") max_mb = std::atoi(argv[i + 1]);
    else if (a == "--nproc") nproc = std::atoi(argv[i + 1]);
  }
  try {
    if (std::getenv("POPO_BENCH_RANK") != nullptr) {
      at::set_num_threads(1);  // two ranks share the cores; Gloo has its own threads
      return run_rank(device, max_mb);
    }
    popo::LaunchOptions opts;
    opts.nproc = nproc;
    opts.prefix_output = false;  // the table is printed by rank 0 only
    opts.extra_env = {{"POPO_BENCH_RANK", "1"}, {"POPO_DIST_TIMEOUT", "120"}};
    std::vector<std::string> args{popo::self_executable()};
    for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
    return popo::launch_ranks(args, opts).exit_code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
