#include "core/io.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace popo {

namespace {

// Reads up to n bytes into buf, stopping early only at the end of the file; returns the count.
// On a read error closes fd and throws popo::Error naming path.
size_t read_fully(int fd, char* buf, size_t n, const std::string& path) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      const int err = errno;
      ::close(fd);
      POPO_FAIL(path, ": read failed (", std::strerror(err), ")");
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

}  // namespace

std::string read_file(const std::string& path) {
  // read() into a string sized from fstat: much faster than an ostringstream of the stream
  // buffer (bench_checkpoint_digest), which matters for an 11 MB tokenizer.json.
  const int fd = ::open(path.c_str(), O_RDONLY);
  POPO_CHECK(fd >= 0, path, ": cannot open for reading (", std::strerror(errno), ")");
  struct stat st {};
  std::string out;
  // Sized once from fstat, one byte over to see the end (a file that grows meanwhile grows it).
  if (::fstat(fd, &st) == 0 && st.st_size > 0) out.resize(static_cast<size_t>(st.st_size) + 1);
  size_t got = 0;
  for (;;) {
    if (out.size() == got) out.resize(std::max<size_t>(2 * out.size(), got + (1u << 20)));
    const size_t want = out.size() - got;
    const size_t n = read_fully(fd, out.data() + got, want, path);
    got += n;
    if (n < want) break;  // the end of the file
  }
  ::close(fd);
  out.resize(got);
  return out;
}

namespace {

// The fault-injection state of this process (io.h): read from the environment on first use.
struct FaultInjector {
  enum class Kind { kNone, kKill, kEnospc };
  Kind kind = Kind::kNone;
  uint64_t budget = 0;  // bytes left before the fault
  std::string path_filter;
  bool tripped = false;  // enospc: the disk stays full
  std::mutex mu;

  FaultInjector() {
    const char* k = std::getenv("POPO_FAULT");
    if (!k || !*k) return;
    const std::string kind_text = k;
    if (kind_text == "kill") {
      kind = Kind::kKill;
    } else if (kind_text == "enospc") {
      kind = Kind::kEnospc;
    } else {
      POPO_FAIL("POPO_FAULT=", kind_text, ": expected kill or enospc");
    }
    const char* b = std::getenv("POPO_FAULT_AFTER_BYTES");
    POPO_CHECK(b && *b, "POPO_FAULT=", kind_text, " needs POPO_FAULT_AFTER_BYTES (a byte count)");
    char* end = nullptr;
    budget = std::strtoull(b, &end, 10);
    POPO_CHECK(end && *end == '\0', "POPO_FAULT_AFTER_BYTES=", b, ": expected a byte count");
    if (const char* p = std::getenv("POPO_FAULT_PATH")) path_filter = p;
  }

  // Returns how many of n bytes to path may be written before the fault (n when none is due).
  size_t allowance(const std::string& path, size_t n) {
    if (kind == Kind::kNone) return n;
    if (!path_filter.empty() && path.find(path_filter) == std::string::npos) return n;
    std::lock_guard<std::mutex> lock(mu);
    if (tripped) return 0;
    if (n <= budget) {
      budget -= n;
      return n;
    }
    const size_t allowed = static_cast<size_t>(budget);
    budget = 0;
    tripped = true;
    return allowed;
  }
};

FaultInjector& fault_injector() {
  static FaultInjector f;
  return f;
}

// Writes without fault injection; returns 0 or the errno of the failed write.
int raw_write_all(int fd, const char* data, size_t n) {
  size_t off = 0;
  while (off < n) {
    const ssize_t w = ::write(fd, data + off, n - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    off += static_cast<size_t>(w);
  }
  return 0;
}

}  // namespace

void write_all(int fd, const char* data, size_t n, const std::string& path) {
  FaultInjector& f = fault_injector();
  const size_t allowed = f.allowance(path, n);
  int err = raw_write_all(fd, data, allowed);
  if (err == 0 && allowed < n) {
    if (f.kind == FaultInjector::Kind::kKill) {
      ::fsync(fd);  // what reached the file stays there, as after a real crash
      ::raise(SIGKILL);
    }
    err = ENOSPC;
  }
  POPO_CHECK(err == 0, path, ": write failed (", std::strerror(err), ")");
}

void fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  POPO_CHECK(fd >= 0, dir, ": cannot open folder to sync it (", std::strerror(errno), ")");
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  POPO_CHECK(rc == 0 || err == EINVAL, dir, ": fsync of the folder failed (", std::strerror(err), ")");
}

void write_file_atomic(const std::string& path, const std::string& data) {
  namespace fs = std::filesystem;
  fs::path target(path);
  if (target.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    POPO_CHECK(!ec, target.parent_path().string(), ": cannot create folder (", ec.message(), ")");
  }
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  POPO_CHECK(fd >= 0, tmp, ": cannot open for writing (", std::strerror(errno), ")");
  // Any failure below removes the temporary file and leaves path as it was.
  auto discard = [&] {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
  };
  auto fail = [&](const std::string& what, int err) {
    discard();
    POPO_FAIL(tmp, ": ", what, " failed (", std::strerror(err), "); ", path, " is unchanged");
  };
  try {
    write_all(fd, data.data(), data.size(), path);
  } catch (const Error&) {
    discard();
    throw;
  }
  if (::fsync(fd) != 0) fail("fsync", errno);
  const int rc = ::close(fd);
  fd = -1;
  if (rc != 0) fail("close", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("rename to " + path, errno);
  fsync_dir(target.has_parent_path() ? target.parent_path().string() : ".");
}

void for_each_jsonl(const std::string& path,
                    const std::function<void(const nlohmann::json&, int)>& fn) {
  for_each_jsonl_text(read_file(path), path, fn);
}

void for_each_jsonl_text(const std::string& text, const std::string& origin,
                         const std::function<void(const nlohmann::json&, int)>& fn) {
  size_t pos = 0;
  int lineno = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++lineno;
    if (line.find_first_not_of(" \t\r\n") == std::string::npos) continue;
    nlohmann::json row;
    try {
      row = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      POPO_FAIL(origin, ":", lineno, ": not valid JSON (", e.what(), ")");
    }
    fn(row, lineno);
  }
}

namespace {

// A streaming 64-bit digest: four lanes of multiply-rotate over 32-byte blocks, the tail folded
// in byte by byte, then a final avalanche. Fed pieces whose sizes are multiples of 32 until the
// last, it equals the digest of the whole.
class Digest64 {
 public:
  void add(const unsigned char* p, size_t n) {
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
      for (int l = 0; l < 4; ++l) {
        uint64_t w;
        std::memcpy(&w, p + i + 8 * l, 8);
        v_[l] = rotl(v_[l] + w * kK2, 31) * kK1;
      }
    }
    for (; i < n; ++i) tail_ = (tail_ ^ p[i]) * 0x100000001b3ULL;
    total_ += n;
  }
  uint64_t finish() const {
    uint64_t h = v_[0] ^ rotl(v_[1], 7) ^ rotl(v_[2], 12) ^ rotl(v_[3], 18);
    h ^= tail_ + total_ * kK1;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
  }

 private:
  static constexpr uint64_t kK1 = 0x9E3779B185EBCA87ULL, kK2 = 0xC2B2AE3D27D4EB4FULL;
  static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
  uint64_t v_[4] = {kK1, kK2, 0x165667B19E3779F9ULL, 0x27D4EB2F165667C5ULL};
  uint64_t tail_ = 0xcbf29ce484222325ULL;
  uint64_t total_ = 0;
};

}  // namespace

FileDigest file_digest(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  POPO_CHECK(fd >= 0, path, ": cannot open for reading (", std::strerror(errno), ")");
  std::vector<unsigned char> buf(1 << 20);
  Digest64 d;
  FileDigest out;
  for (;;) {
    // Whole buffers until the end, so the digest's pieces stay multiples of 32 bytes.
    const size_t got = read_fully(fd, reinterpret_cast<char*>(buf.data()), buf.size(), path);
    d.add(buf.data(), got);
    out.bytes += got;
    if (got < buf.size()) break;
  }
  ::close(fd);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(d.finish()));
  out.hash = hex;
  return out;
}

bool path_exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec) && !ec;
}

bool is_folder(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec) && !ec;
}

std::string path_join(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (a.back() == '/') return a + b;
  return a + "/" + b;
}

}  // namespace popo
