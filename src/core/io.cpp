#include "core/io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace popo {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  POPO_CHECK(in.good(), path, ": cannot open for reading (", std::strerror(errno), ")");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
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
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      POPO_FAIL(tmp, ": write failed (", std::strerror(err), ")");
    }
    off += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    POPO_FAIL(path, ": rename from ", tmp, " failed (", std::strerror(err), ")");
  }
}

void for_each_jsonl(const std::string& path,
                    const std::function<void(const nlohmann::json&, int)>& fn) {
  std::ifstream in(path);
  POPO_CHECK(in.good(), path, ": cannot open JSONL file (", std::strerror(errno), ")");
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r\n") == std::string::npos) continue;
    nlohmann::json row;
    try {
      row = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      POPO_FAIL(path, ":", lineno, ": not valid JSON (", e.what(), ")");
    }
    fn(row, lineno);
  }
}

bool path_exists(const std::string& path) { return std::filesystem::exists(path); }

std::string path_join(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (a.back() == '/') return a + b;
  return a + "/" + b;
}

}  // namespace popo
