// Memory reporting for "peak memory per phase" metrics: current and peak bytes of one device,
// and a reset of the peak at the start of a phase. CUDA: the caching allocator's statistics of
// the device (bytes in live tensors, and bytes reserved from the driver). CPU: the process's
// resident set (VmRSS, peak VmHWM from /proc/self/status), which counts everything the process
// holds, not only tensors. Mirrors torch.cuda.max_memory_allocated / reset_peak_memory_stats.
// Not here: per-tensor attribution, memory snapshots.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <string>

namespace popo {

struct MemoryStats {
  int64_t current_bytes = 0;    // CUDA: allocated by live tensors; CPU: VmRSS
  int64_t peak_bytes = 0;       // CUDA: peak allocated since the last reset; CPU: VmHWM
  int64_t reserved_bytes = -1;  // CUDA: held by the caching allocator; -1 on CPU
  bool peak_is_resettable = false;  // false: peak_bytes may date from before the last reset
  std::string source;           // "cuda-caching-allocator" | "proc-status" | "unavailable"
};

// Returns the memory statistics of device (CPU: the whole process). A CUDA device in a build
// without CUDA support, or with no GPU at run time, gives source "unavailable" and zeros.
MemoryStats memory_stats(const c10::Device& device);

// Resets the peak of device to its current value (CUDA: resetPeakStats; CPU: writes 5 to
// /proc/self/clear_refs, which resets VmHWM on Linux). Returns false where the peak cannot be
// reset (then peak_bytes keeps the older, higher peak).
bool reset_peak_memory(const c10::Device& device);

// Returns true when this binary was built with the CUDA allocator statistics compiled in.
bool memory_stats_have_cuda();

// Returns "1.23 GiB" / "456.0 MiB" / "789 B" for a byte count (negative: "n/a").
std::string format_bytes(int64_t bytes);

}  // namespace popo
