// The folders and programs compiled in by CMake, as functions defined in one generated source
// file (build/build_paths.cpp, build/test_paths.cpp), so that no other file's compile command
// names the checkout's absolute path: ccache then reuses objects between checkouts. CMake
// defines POPO_DATA_DIR, POPO_FIXTURES_DIR (and, in the test programs, POPO_BINARY) as calls of
// these functions: a file that uses one of the macros includes this header.
#pragma once

namespace popo {
const char* build_data_dir();      // ../shared/data of the checkout, or -DPOPO_DATA_DIR=...
const char* build_fixtures_dir();  // ../shared/fixtures, or -DPOPO_FIXTURES_DIR=...
const char* build_popo_binary();   // the popo program of this build (test programs only)
}  // namespace popo
