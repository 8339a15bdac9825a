#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io.h"

namespace popo {
namespace {

std::string temp_dir() {
  auto p = std::filesystem::temp_directory_path() / ("popo_io_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(p);
  return p.string();
}

TEST(Io, AtomicWriteReplacesContentAndLeavesNoTemporary) {
  const std::string dir = temp_dir();
  const std::string path = path_join(dir, "sub/file.txt");
  write_file_atomic(path, "first");
  write_file_atomic(path, "second");
  EXPECT_EQ(read_file(path), "second");
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir + "/sub")) { (void)e; ++files; }
  EXPECT_EQ(files, 1);
  std::filesystem::remove_all(dir);
}

TEST(Io, ReadMissingFileNamesThePath) {
  try {
    read_file("/nonexistent/popo/x.json");
    FAIL() << "expected popo::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/popo/x.json"), std::string::npos);
  }
}

TEST(Io, JsonlReportsLineNumberOfBadRow) {
  const std::string dir = temp_dir();
  const std::string path = path_join(dir, "rows.jsonl");
  write_file_atomic(path, "{\"a\": 1}\n\n{\"a\": 2}\n{bad\n");
  std::vector<int> seen;
  try {
    for_each_jsonl(path, [&](const nlohmann::json& row, int line) {
      seen.push_back(row["a"].get<int>() * 10 + line);
    });
    FAIL() << "expected popo::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rows.jsonl:4"), std::string::npos) << e.what();
  }
  EXPECT_EQ(seen, (std::vector<int>{11, 23}));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace popo
