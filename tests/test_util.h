// Shared helpers for the test suites: where the fixtures and data live. The checkout's
// tests/fixtures and data/ (found from the test program's folder, src/core/build_paths.h) unless
// POPO_FIXTURES_DIR / POPO_DATA_DIR (environment, when not empty) name other folders.
#pragma once

#include <cstdlib>
#include <string>

#include "core/build_paths.h"

namespace popo::test {

// Returns the fixtures folder: $POPO_FIXTURES_DIR, else <checkout>/tests/fixtures.
inline std::string fixtures_dir() {
  const char* env = std::getenv("POPO_FIXTURES_DIR");
  return env && *env ? env : POPO_FIXTURES_DIR;
}
// Returns the data folder: $POPO_DATA_DIR, else <checkout>/data.
inline std::string data_dir() {
  const char* env = std::getenv("POPO_DATA_DIR");
  return env && *env ? env : POPO_DATA_DIR;
}
// Returns fixtures_dir()/rel.
inline std::string fixture_path(const std::string& rel) { return fixtures_dir() + "/" + rel; }

}  // namespace popo::test
