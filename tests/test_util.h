// Shared helpers for the test suites: where the fixtures and data live. POPO_FIXTURES_DIR and
// POPO_DATA_DIR (environment) override the paths compiled in by CMake.
#pragma once

#include <cstdlib>
#include <string>

#include "core/build_paths.h"

namespace popo::test {

// Returns the fixtures folder (../shared/fixtures unless POPO_FIXTURES_DIR is set).
inline std::string fixtures_dir() {
  const char* env = std::getenv("POPO_FIXTURES_DIR");
  return env ? env : POPO_FIXTURES_DIR;
}
// Returns the data folder (../shared/data unless POPO_DATA_DIR is set).
inline std::string data_dir() {
  const char* env = std::getenv("POPO_DATA_DIR");
  return env ? env : POPO_DATA_DIR;
}
// Returns fixtures_dir()/rel.
inline std::string fixture_path(const std::string& rel) { return fixtures_dir() + "/" + rel; }

}  // namespace popo::test
