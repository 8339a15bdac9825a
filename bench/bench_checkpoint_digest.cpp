// What the checkpoint manifest costs (issue #14): state.json records each file's size and
// digest, computed by reading the file back after it is written, and checked on resume by
// reading it once more before loading. This times core/io.h's file_digest against the same reads
// without the digest (read() into the same 1 MiB buffer), and against read_file (what loading a
// JSON or config file costs), all from the page cache: the first ratio is the digest's own cost.
// Prints one markdown table. Usage: bench_checkpoint_digest [MB]   (default 512)
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/io.h"

namespace {

double cpu_now() {  // this thread's CPU time: the build machine is shared
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

template <class F>
double best_of(int n, F f) {
  double best = 1e30;
  for (int i = 0; i < n; ++i) {
    const double t0 = cpu_now();
    f();
    best = std::min(best, cpu_now() - t0);
  }
  return best;
}

// Reads the whole file in 1 MiB pieces and returns its size: file_digest's reads, no digest.
size_t raw_read(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  std::vector<char> buf(1 << 20);
  size_t total = 0;
  for (ssize_t n; (n = ::read(fd, buf.data(), buf.size())) > 0;) total += static_cast<size_t>(n);
  ::close(fd);
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t mb = argc > 1 ? static_cast<size_t>(std::atol(argv[1])) : 512;
  const std::string path = "/tmp/popo_bench_digest_" + std::to_string(::getpid()) + ".bin";
  std::string data(mb << 20, '\0');
  uint64_t x = 0x9E3779B97F4A7C15ULL;
  for (size_t i = 0; i < data.size(); i += 8) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    for (int k = 0; k < 8 && i + k < data.size(); ++k) data[i + k] = static_cast<char>(x >> (8 * k));
  }
  popo::write_file_atomic(path, data);
  data.clear();
  data.shrink_to_fit();
  size_t sink = 0;
  const double t_raw = best_of(3, [&] { sink += raw_read(path); });
  const double t_read = best_of(3, [&] { sink += popo::read_file(path).size(); });
  const double t_digest = best_of(3, [&] { sink += popo::file_digest(path).bytes; });
  ::unlink(path.c_str());
  const double gb = static_cast<double>(mb) / 1024.0;
  std::printf("| %zu MB file (page cache), CPU s, best of 3 | read() 1 MiB pieces (baseline) | read_file | file_digest |\n", mb);
  std::printf("|---|---|---|---|\n");
  std::printf("| seconds | %.3f | %.3f | %.3f |\n", t_raw, t_read, t_digest);
  std::printf("| GB/s | %.2f | %.2f | %.2f |\n", gb / t_raw, gb / t_read, gb / t_digest);
  std::printf("| time / baseline | 1.00 | %.2f | %.2f |\n", t_read / t_raw, t_digest / t_raw);
  return sink == 0 ? 1 : 0;
}
