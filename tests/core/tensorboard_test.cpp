// core/tensorboard.h: CRC-32C against published check values (RFC 3720's iSCSI vectors and the
// "123456789" check value), the TFRecord framing of one record byte by byte (length and masked
// CRCs computed here from the RFC values, the Event bytes from the protobuf wire format by
// hand), and files written, read back and damaged.
#include "core/tensorboard.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "core/io.h"

namespace popo {
namespace {

namespace fs = std::filesystem;

std::string fresh_dir(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("popo_tb_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p.string();
}

TEST(Crc32c, PublishedCheckValues) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  std::string zeros(32, '\0'), ones(32, '\xff'), up(32, '\0'), down(32, '\0');
  for (int i = 0; i < 32; ++i) up[i] = static_cast<char>(i), down[i] = static_cast<char>(31 - i);
  EXPECT_EQ(crc32c(zeros.data(), 32), 0x8A9136AAu);  // RFC 3720 B.4
  EXPECT_EQ(crc32c(ones.data(), 32), 0x62A8AB43u);
  EXPECT_EQ(crc32c(up.data(), 32), 0x46DD794Eu);
  EXPECT_EQ(crc32c(down.data(), 32), 0x113FDB5Cu);
  EXPECT_EQ(crc32c("", 0), 0u);
  // The mask: rotate right by 15, add the constant (TFRecord's MaskedCrc).
  const uint32_t c = 0xE3069283u;
  EXPECT_EQ(masked_crc32c("123456789", 9), ((c >> 15) | (c << 17)) + 0xa282ead8u);
}

// Returns the little-endian bytes of v.
std::string le(uint64_t v, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return s;
}

TEST(TensorBoard, OneRecordFramedByteByByte) {
  const std::string dir = fresh_dir("frame");
  std::string path;
  {
    TensorBoardWriter w(dir);
    path = w.path();
    w.write_scalars(3, 1.5, nlohmann::json{{"a", 2.0}});
  }
  const std::string bytes = read_file(path);
  // The Event by hand: wall_time (field 1, fixed64) 1.5, step (field 2, varint) 3, summary
  // (field 5, bytes) { value (field 1, bytes) { tag (1) "a", simple_value (2, fixed32) 2.0f } }.
  std::string value = std::string("\x0a\x01" "a", 3) + "\x15" + le(0x40000000u, 4);  // 2.0f
  std::string summary = "\x0a" + std::string(1, static_cast<char>(value.size())) + value;
  std::string event = "\x09" + le(0x3FF8000000000000ull, 8) + "\x10\x03" + "\x2a" +
                      std::string(1, static_cast<char>(summary.size())) + summary;
  const std::string len = le(event.size(), 8);
  const std::string want = len + le(masked_crc32c(len.data(), 8), 4) + event +
                           le(masked_crc32c(event.data(), event.size()), 4);
  ASSERT_GE(bytes.size(), want.size());
  EXPECT_EQ(bytes.substr(bytes.size() - want.size()), want);
  // A 0.0 keeps its simple_value field (tag 0x15, four zero bytes), as TensorBoard needs.
  {
    TensorBoardWriter w(dir);
    w.write_scalars(0, 0.0, nlohmann::json{{"z", 0.0}});
    const std::string zb = read_file(w.path());
    const std::string zvalue = std::string("\x0a\x01" "z", 3) + "\x15" + le(0, 4);
    EXPECT_NE(zb.find(zvalue), std::string::npos);
  }
  fs::remove_all(dir);
}

TEST(TensorBoard, WritesReadsBackAndSkipsNonNumbers) {
  const std::string dir = fresh_dir("rw");
  std::string path;
  {
    TensorBoardWriter w(dir);
    path = w.path();
    EXPECT_EQ(fs::path(path).parent_path(), fs::path(dir));
    EXPECT_EQ(fs::path(path).filename().string().rfind("events.out.tfevents.", 0), 0u);
    w.write_scalars(1, 100.0,
                    nlohmann::json{{"reward/mean", 0.25}, {"loss", -1e-3}, {"step", 1}, {"zero", 0.0}});
    w.write_scalars(2, 101.0,
                    nlohmann::json{{"reward/mean", 0.5},
                                   {"nan", std::numeric_limits<double>::quiet_NaN()},
                                   {"inf", std::numeric_limits<double>::infinity()},
                                   {"name", "text"}, {"flag", true}, {"none", nullptr}, {"n", 7}});
    w.write_session_start(2, 102.0);
  }
  const auto ev = read_tensorboard_events(path);
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0].file_version, "brain.Event:2");
  EXPECT_TRUE(ev[0].scalars.empty());
  EXPECT_EQ(ev[1].step, 1);
  EXPECT_EQ(ev[1].wall_time, 100.0);
  // nlohmann's object keeps keys sorted; "step" is the event's own.
  // A 0 is written too (a value without simple_value is not a scalar to TensorBoard).
  EXPECT_EQ(ev[1].scalars, (std::vector<std::pair<std::string, float>>{
                               {"loss", -1e-3f}, {"reward/mean", 0.25f}, {"zero", 0.0f}}));
  EXPECT_EQ(ev[2].scalars, (std::vector<std::pair<std::string, float>>{{"n", 7.0f}, {"reward/mean", 0.5f}}));
  EXPECT_TRUE(ev[3].session_start);
  EXPECT_EQ(ev[3].step, 2);

  // A second writer on the same folder: a new file, the old one untouched.
  const std::string before = read_file(path);
  {
    TensorBoardWriter again(dir);
    EXPECT_NE(again.path(), path);
  }
  EXPECT_EQ(read_file(path), before);
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir)) files += e.is_regular_file();
  EXPECT_EQ(files, 2);
  fs::remove_all(dir);
}

std::string error_of(const std::string& path) {
  try {
    read_tensorboard_events(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(TensorBoard, DamagedFilesNameTheRecordOffset) {
  const std::string dir = fresh_dir("bad");
  std::string path;
  {
    TensorBoardWriter w(dir);
    path = w.path();
    w.write_scalars(1, 1.0, nlohmann::json{{"x", 1.0}});
  }
  const std::string good = read_file(path);
  const size_t first = 8 + 4 + static_cast<size_t>(static_cast<unsigned char>(good[0])) + 4;  // the opening record
  ASSERT_LT(first, good.size());
  auto write_variant = [&](std::string bytes) { write_file_atomic(path, bytes); };

  std::string flipped = good;
  flipped[first + 14] ^= 0x01;  // a byte of the second record's data
  write_variant(flipped);
  EXPECT_NE(error_of(path).find("bad data checksum of the record at byte " + std::to_string(first)),
            std::string::npos)
      << error_of(path);

  std::string bad_len = good;
  bad_len[first] ^= 0x01;
  write_variant(bad_len);
  EXPECT_NE(error_of(path).find("bad length checksum of the record at byte " + std::to_string(first)),
            std::string::npos)
      << error_of(path);

  write_variant(good.substr(0, good.size() - 3));
  EXPECT_NE(error_of(path).find("truncated record at byte " + std::to_string(first)), std::string::npos)
      << error_of(path);
  write_variant(good.substr(0, first + 5));
  EXPECT_NE(error_of(path).find("truncated record header at byte " + std::to_string(first)), std::string::npos)
      << error_of(path);
  write_variant(good);
  EXPECT_EQ(error_of(path), "");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace popo
