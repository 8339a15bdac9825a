// The build folder's view of its checkout. The one generated source file (build/build_paths.cpp)
// holds the checkout's path *relative to the build folder*, and the programs of a build (popo,
// the tests, the benches) live in that folder, so the checkout is found from the program's own
// path at run time: no compile command and no object names the checkout's absolute path (ccache
// then reuses objects between checkouts), and a checkout moved with its build folder still
// works. CMake defines POPO_DATA_DIR, POPO_FIXTURES_DIR (and, in the test programs, POPO_BINARY)
// as calls of these functions: a file that uses one of the macros includes this header.
// Installed programs do not use these: src/core/paths.h finds their files.
#pragma once

#include <filesystem>

namespace popo {
const char* build_source_dir();    // the checkout relative to the build folder, e.g. ".."
const char* build_data_dir();      // <checkout>/data, absolute (resolved from the program's folder)
const char* build_fixtures_dir();  // <checkout>/tests/fixtures, absolute
const char* build_popo_binary();   // the popo program of this build (test programs only)

// Returns the source file `file` (a __FILE__) as an absolute path. Compiled through ccache
// (scripts/ccache_env.sh), __FILE__ is relative to the build folder, which is the folder of the
// test and bench programs: resolve it there, so they run from any working directory.
inline std::filesystem::path source_file(const char* file) {
  std::filesystem::path p(file);
  if (p.is_relative()) p = std::filesystem::canonical("/proc/self/exe").parent_path() / p;
  return p.lexically_normal();
}
}  // namespace popo
