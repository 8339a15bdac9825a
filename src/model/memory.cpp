// Memory statistics: CUDA caching allocator when compiled in and a GPU is present, else the
// process's /proc/self/status (see memory.h).
#include "model/memory.h"

#include <torch/torch.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

// Debian's CPU libtorch ships c10/cuda headers but no CUDA runtime headers and no libc10_cuda,
// so the header alone is no proof: the CUDA wheels' CMake config defines USE_C10D_NCCL (and
// links c10_cuda into TORCH_LIBRARIES), and the CUDA toolkit provides cuda_runtime_api.h.
#if (defined(USE_CUDA) || defined(USE_C10D_NCCL)) && __has_include(<c10/cuda/CUDACachingAllocator.h>) && \
    __has_include(<cuda_runtime_api.h>)
#define POPO_HAVE_CUDA_ALLOCATOR_STATS 1
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace popo {
namespace {

// Returns the value in bytes of a "Key:   1234 kB" line of /proc/self/status, or -1.
int64_t proc_status_bytes(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) == 0 && line.size() > key.size() && line[key.size()] == ':') {
      std::istringstream fields(line.substr(key.size() + 1));
      int64_t kb = -1;
      fields >> kb;
      return kb < 0 ? -1 : kb * 1024;
    }
  }
  return -1;
}

bool cuda_ready(const c10::Device& device) {
  return device.is_cuda() && memory_stats_have_cuda() && torch::cuda::is_available();
}

}  // namespace

bool memory_stats_have_cuda() {
#ifdef POPO_HAVE_CUDA_ALLOCATOR_STATS
  return true;
#else
  return false;
#endif
}

MemoryStats memory_stats(const c10::Device& device) {
  MemoryStats s;
  if (device.is_cuda()) {
    if (!cuda_ready(device)) {
      s.source = "unavailable";
      return s;
    }
#ifdef POPO_HAVE_CUDA_ALLOCATOR_STATS
    const c10::DeviceIndex index = device.has_index() ? device.index() : c10::DeviceIndex(0);
    // StatArray index 0 is StatType::AGGREGATE (all pools) in every libtorch version.
    auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
    s.current_bytes = stats.allocated_bytes[0].current;
    s.peak_bytes = stats.allocated_bytes[0].peak;
    s.reserved_bytes = stats.reserved_bytes[0].current;
    s.peak_is_resettable = true;
    s.source = "cuda-caching-allocator";
#endif
    return s;
  }
  s.current_bytes = proc_status_bytes("VmRSS");
  s.peak_bytes = proc_status_bytes("VmHWM");
  if (s.current_bytes < 0 || s.peak_bytes < 0) {
    s.source = "unavailable";
    s.current_bytes = s.peak_bytes = 0;
    return s;
  }
  s.peak_is_resettable = ::access("/proc/self/clear_refs", W_OK) == 0;
  s.source = "proc-status";
  return s;
}

bool reset_peak_memory(const c10::Device& device) {
  if (device.is_cuda()) {
    if (!cuda_ready(device)) return false;
#ifdef POPO_HAVE_CUDA_ALLOCATOR_STATS
    c10::cuda::CUDACachingAllocator::resetPeakStats(device.has_index() ? device.index() : c10::DeviceIndex(0));
    return true;
#else
    return false;
#endif
  }
  // "5" resets the peak resident set size (Documentation/filesystems/proc.rst, clear_refs).
  std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (f == nullptr) return false;
  const bool ok = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

std::string format_bytes(int64_t bytes) {
  if (bytes < 0) return "n/a";
  char buf[32];
  const double b = static_cast<double>(bytes);
  if (b >= 1024.0 * 1024 * 1024) {
    std::snprintf(buf, sizeof(buf), "%.2f GiB", b / (1024.0 * 1024 * 1024));
  } else if (b >= 1024.0 * 1024) {
    std::snprintf(buf, sizeof(buf), "%.1f MiB", b / (1024.0 * 1024));
  } else {
    std::snprintf(buf, sizeof(buf), "%lld B", static_cast<long long>(bytes));
  }
  return buf;
}

}  // namespace popo
