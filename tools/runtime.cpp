// Start-up runtime choices shared by the subcommands: libtorch's intra-op thread count and a
// warning when libtorch's BLAS is the slow reference implementation.
#include <torch/torch.h>

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "core/log.h"
#include "tools/command.h"

namespace popo::tools {

namespace {
// Returns the resolved path of the BLAS library mapped into this process, or "".
std::string loaded_blas() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    auto pos = line.find('/');
    if (pos == std::string::npos) continue;
    std::string path = line.substr(pos);
    if (path.find("libblas") != std::string::npos || path.find("openblas") != std::string::npos ||
        path.find("libmkl") != std::string::npos) {
      return path;
    }
  }
  return "";
}
// Returns OpenBLAS's own thread count (a separate pool from libtorch's), or -1 without OpenBLAS.
int openblas_threads() {
  using Fn = int (*)();
  auto fn = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return fn != nullptr ? fn() : -1;
}
}  // namespace

void init_runtime(int num_threads) {
  static bool done = false;
  if (done) return;
  done = true;
  if (num_threads > 0) torch::set_num_threads(num_threads);
  const std::string blas = loaded_blas();
  const std::string cfg = at::show_config();
  LOG_INFO("torch ", TORCH_VERSION, ", intra-op threads ", at::get_num_threads(), ", OpenBLAS threads ",
           openblas_threads(),
           ", BLAS ", blas.empty() ? std::string("(none mapped)") : blas);
  const bool reference_blas = !blas.empty() && blas.find("openblas") == std::string::npos &&
                              blas.find("mkl") == std::string::npos;
  if (reference_blas) {
    LOG_WARN("libtorch is using the generic reference BLAS (", blas,
             "): matrix products run about 40x slower; install libopenblas0-pthread");
  }
}

}  // namespace popo::tools
