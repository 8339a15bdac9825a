// The checksum manifests of the repository's data/ and tests/fixtures/ (SHA256SUMS, the
// sha256sum format) list exactly the files there, and every benchmark and training set that
// popo names is among them. The hashes themselves are checked by the ctest tests
// data.checksums and fixtures.checksums (sha256sum --check, CMakeLists.txt).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>

#include "core/build_paths.h"
#include "data/math_dataset.h"

namespace popo {
namespace {

namespace fs = std::filesystem;

// Returns the file names of dir/SHA256SUMS, each line checked to be "<64 hex>  <name>".
std::set<std::string> manifest(const fs::path& dir) {
  const fs::path path = dir / "SHA256SUMS";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "missing manifest " << path;
  static const std::regex kLine("^[0-9a-f]{64}  (\\S.*)$");
  std::set<std::string> names;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    std::smatch m;
    if (!std::regex_match(line, m, kLine)) {
      ADD_FAILURE() << path << ":" << n << ": expected '<sha256>  <file>', got '" << line << "'";
      continue;
    }
    EXPECT_TRUE(names.insert(m[1]).second) << path << ": " << m[1] << " listed twice";
  }
  return names;
}

// Returns the files under dir (relative, '/'-separated), except its own SHA256SUMS and
// README.md, which describe the others.
std::set<std::string> files_under(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string rel = fs::relative(e.path(), dir).generic_string();
    if (rel != "SHA256SUMS" && rel != "README.md") names.insert(rel);
  }
  return names;
}

TEST(ShippedFiles, DataManifestListsEveryDataFile) {
  const fs::path dir = build_data_dir();
  const std::set<std::string> listed = manifest(dir);
  EXPECT_EQ(listed, files_under(dir)) << "data/SHA256SUMS and the files in " << dir << " differ";
  for (const auto& name : benchmark_names()) {
    const std::string file = fs::path(benchmark_path(name, dir.string())).filename().string();
    EXPECT_EQ(listed.count(file), 1u) << "benchmark " << name << ": " << file << " not shipped";
  }
  for (const char* file : {"math_train.jsonl", "gsm8k_train.jsonl"}) {
    EXPECT_EQ(listed.count(file), 1u) << "training set " << file << " not shipped";
  }
}

TEST(ShippedFiles, FixturesManifestListsEveryFixture) {
  const fs::path dir = build_fixtures_dir();
  const std::set<std::string> want = files_under(dir);
  EXPECT_EQ(manifest(dir), want) << "tests/fixtures/SHA256SUMS and the files in " << dir << " differ";
  for (const char* m : {"llama-tiny", "qwen2-tiny", "qwen2-tiny-tied-bf16", "qwen3-tiny"}) {
    EXPECT_TRUE(want.count(std::string("hf-reference/models/") + m + "/reference.safetensors")) << m;
  }
}

}  // namespace
}  // namespace popo
