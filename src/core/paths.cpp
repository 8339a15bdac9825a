// Run-time lookup of the shipped data and configs (see paths.h), and the build folder's view of
// its checkout that build_paths.h declares.
#include "core/paths.h"

#include <cstdlib>
#include <filesystem>

#include "core/build_paths.h"
#include "core/error.h"

namespace fs = std::filesystem;

namespace popo {

std::string executable_dir() {
  std::error_code ec;
  const fs::path exe = fs::canonical("/proc/self/exe", ec);
  POPO_CHECK(!ec, "cannot resolve the program's own path /proc/self/exe: ", ec.message());
  return exe.parent_path().string();
}

namespace {
// Returns exe_dir/build_source_dir()/rel, normalised.
std::string in_checkout(const std::string& exe_dir, const char* rel) {
  return (fs::path(exe_dir) / build_source_dir() / rel).lexically_normal().string();
}
}  // namespace

std::string shipped_dir(const std::string& kind, const std::string& exe_dir) {
  const std::string installed = (fs::path(exe_dir).parent_path() / "share" / "popo" / kind).string();
  if (fs::is_directory(installed)) return installed;
  const std::string checkout = in_checkout(exe_dir, kind.c_str());
  if (fs::is_directory(checkout)) return checkout;
  POPO_FAIL("popo's ", kind, " folder was not found: looked in ", installed,
            " (an installed popo) and ", checkout, " (a build folder of the checkout)",
            kind == "data" ? "; set POPO_DATA_DIR to the folder of the benchmark files" : "");
}

std::string shipped_dir(const std::string& kind) { return shipped_dir(kind, executable_dir()); }

std::string default_data_dir() {
  const char* env = std::getenv("POPO_DATA_DIR");
  if (env && *env) return env;
  return shipped_dir("data");
}

const char* build_data_dir() {
  static const std::string dir = in_checkout(executable_dir(), "data");
  return dir.c_str();
}

const char* build_fixtures_dir() {
  static const std::string dir = in_checkout(executable_dir(), "tests/fixtures");
  return dir.c_str();
}

}  // namespace popo
