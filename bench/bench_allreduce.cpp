// All-reduce bandwidth of popo::Dist for 1 MB .. 256 MB float32 tensors on 2 local ranks
// (this program re-executes itself as the ranks through popo::launch_ranks). Gloo on CPU;
// NCCL on CUDA when the build has it and 2 GPUs are visible (--device cuda). Prints one markdown
// table: time per all-reduce, algorithm bandwidth (bytes / time) and bus bandwidth
// (2 (n-1)/n x algbw, the nccl-tests convention); baselines in the same run: Python
// torch.distributed's all_reduce over the same backend (bench_allreduce_torch.py, run with
// $POPO_PYTHON or /usr/bin/python3; "n/a" if that fails) and a local memcpy of the same size.
// Usage: bench_allreduce [--device cpu|cuda] [--max-mb 256] [--nproc 2]
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <unistd.h>

#include "dist/dist.h"
#include "dist/launch.h"
#include "core/build_paths.h"

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
  std::ofstream out;
  if (dist->is_main()) out.open(std::getenv("POPO_BENCH_OUT"));
  for (int mb = 1; mb <= max_mb; mb *= 4) {
    const int64_t numel = static_cast<int64_t>(mb) * 1024 * 1024 / 4;
    std::vector<at::Tensor> ts{torch::ones({numel}, torch::dtype(torch::kFloat32).device(dev))};
    double t = time_it(*dist, dev, [&] { dist->all_reduce_sum(ts); });
    at::Tensor src = torch::ones({numel}, torch::dtype(torch::kFloat32).device(dev));
    at::Tensor dst = torch::empty_like(src);
    double tc = time_it(*dist, dev, [&] { dst.copy_(src); });
    if (dist->is_main()) out << mb << " " << t << " " << tc << " " << dist->backend() << "\n";
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
    namespace fs = std::filesystem;
    const std::string tag = std::to_string(::getpid());
    const fs::path ours = fs::temp_directory_path() / ("popo_bench_ar_" + tag + ".txt");
    const fs::path theirs = fs::temp_directory_path() / ("popo_bench_ar_py_" + tag + ".txt");
    popo::LaunchOptions opts;
    opts.nproc = nproc;
    opts.extra_env = {{"POPO_BENCH_RANK", "1"}, {"POPO_DIST_TIMEOUT", "120"},
                      {"POPO_BENCH_OUT", ours.string()},
                      {"POPO_BENCH_MAX_MB", std::to_string(max_mb)}};
    std::vector<std::string> args{popo::self_executable()};
    for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
    int rc = popo::launch_ranks(args, opts).exit_code;
    if (rc != 0) return rc;
    // Baseline: the same loop in Python torch.distributed (CPU/Gloo only).
    std::map<int, double> py;
    if (device == "cpu") {
      const char* env_py = std::getenv("POPO_PYTHON");
      std::string python = env_py ? env_py : "/usr/bin/python3";
      std::string script = (popo::source_file(__FILE__).parent_path() / "bench_allreduce_torch.py").string();
      opts.extra_env.back() = {"POPO_BENCH_MAX_MB", std::to_string(max_mb)};
      opts.extra_env[2] = {"POPO_BENCH_OUT", theirs.string()};
      if (popo::launch_ranks({python, script}, opts).exit_code == 0) {
        std::ifstream in(theirs);
        int mb;
        double s;
        while (in >> mb >> s) py[mb] = s;
      }
    }
    std::printf("| size | backend | popo ms | popo algbw GB/s | popo busbw GB/s | "
                "torch.distributed ms | memcpy GB/s |\n|---:|---|---:|---:|---:|---:|---:|\n");
    std::ifstream in(ours);
    int mb;
    double t, tc;
    std::string backend;
    while (in >> mb >> t >> tc >> backend) {
      const double bytes = mb * 1024.0 * 1024.0, algbw = bytes / t / 1e9;
      std::string base = py.count(mb) ? std::to_string(py[mb] * 1e3) : "n/a";
      if (py.count(mb)) base.resize(base.find('.') + 3);
      std::printf("| %d MB | %s | %.2f | %.3f | %.3f | %s | %.2f |\n", mb, backend.c_str(), t * 1e3,
                  algbw, algbw * 2.0 * (nproc - 1) / nproc, base.c_str(), bytes / tc / 1e9);
    }
    fs::remove(ours);
    fs::remove(theirs);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
