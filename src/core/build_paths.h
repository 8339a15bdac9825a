// The folders and programs compiled in by CMake, as functions defined in one generated source
// file (build/build_paths.cpp, build/test_paths.cpp), so that no other file's compile command
// names the checkout's absolute path: ccache then reuses objects between checkouts. CMake
// defines POPO_DATA_DIR, POPO_FIXTURES_DIR (and, in the test programs, POPO_BINARY) as calls of
// these functions: a file that uses one of the macros includes this header.
#pragma once

#include <filesystem>

namespace popo {
const char* build_data_dir();      // ../shared/data of the checkout, or -DPOPO_DATA_DIR=...
const char* build_fixtures_dir();  // ../shared/fixtures, or -DPOPO_FIXTURES_DIR=...
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
