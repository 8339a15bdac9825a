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

// A file over read_file's and file_digest's 1 MiB pieces: read back byte for byte; the digest
// counts every byte and changes with any one of them (first, across a piece boundary, in the
// tail under 32 bytes, last), and with the length (a zero byte appended).
TEST(Io, ReadFileAndDigestCoverEveryByteOfALargeFile) {
  const std::string dir = temp_dir();
  const std::string path = path_join(dir, "big.bin");
  std::string data((3u << 20) + 37, '\0');
  uint64_t x = 88172645463325252ULL;
  for (char& c : data) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<char>(x);
  }
  write_file_atomic(path, data);
  EXPECT_EQ(read_file(path), data);
  const FileDigest d = file_digest(path);
  EXPECT_EQ(d.bytes, data.size());
  EXPECT_EQ(d.hash.size(), 16u);
  EXPECT_EQ(file_digest(path).hash, d.hash) << "not a function of the content";
  for (size_t at : {size_t{0}, (size_t{1} << 20) - 1, size_t{1} << 20, data.size() - 20, data.size() - 1}) {
    std::string flipped = data;
    flipped[at] ^= 1;
    write_file_atomic(path, flipped);
    EXPECT_NE(file_digest(path).hash, d.hash) << "a flipped bit at byte " << at << " went unseen";
  }
  write_file_atomic(path, data + std::string(1, '\0'));
  EXPECT_NE(file_digest(path).hash, d.hash) << "an appended zero byte went unseen";
  write_file_atomic(path, "");
  EXPECT_EQ(read_file(path), "");
  EXPECT_EQ(file_digest(path).bytes, 0u);
  std::filesystem::remove_all(dir);
}

TEST(Io, PathChecksNeverThrow) {
  const std::string long_name(5000, 'x');  // past NAME_MAX: std::filesystem::exists throws here
  EXPECT_FALSE(path_exists(long_name));
  EXPECT_FALSE(is_folder(long_name));
  EXPECT_TRUE(is_folder(temp_dir()));
  EXPECT_FALSE(is_folder(path_join(temp_dir(), "none")));
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
