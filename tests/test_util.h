// Shared helpers for the test suites: where the fixtures and data live. POPO_FIXTURES_DIR and
// POPO_DATA_DIR (environment) override the paths compiled in by CMake. Small fixtures the
// repository carries itself live in tests/fixtures (POPO_REPO_FIXTURES_DIR overrides).
#pragma once

#include <cstdlib>
#include <string>

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

// Returns the repository's own fixtures folder: tests/fixtures next to this header (found from
// __FILE__, an absolute path under CMake) unless POPO_REPO_FIXTURES_DIR is set.
inline std::string repo_fixtures_dir() {
  const char* env = std::getenv("POPO_REPO_FIXTURES_DIR");
  if (env) return env;
  const std::string here = __FILE__;  // <repo>/tests/test_util.h
  const size_t slash = here.find_last_of('/');
  return (slash == std::string::npos ? std::string(".") : here.substr(0, slash)) + "/fixtures";
}
// Returns repo_fixtures_dir()/rel.
inline std::string repo_fixture_path(const std::string& rel) {
  return repo_fixtures_dir() + "/" + rel;
}

}  // namespace popo::test
