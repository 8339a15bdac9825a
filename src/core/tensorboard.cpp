// TensorBoard event files (core/tensorboard.h).
#include "core/tensorboard.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io.h"
#include "tensorboard_event.pb.h"

namespace popo {

namespace {

// The 256-entry table of the reflected CRC-32C polynomial, built once.
const std::array<uint32_t, 256>& crc_table() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

void put_le(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_le(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  std::string h = buf;
  for (char& c : h)
    if (c == '/' || c == ' ') c = '_';
  return h;
}

}  // namespace

uint32_t crc32c(const void* data, size_t n) {
  const auto& t = crc_table();
  const unsigned char* p = static_cast<const unsigned char*>(data);
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = t[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(const void* data, size_t n) {
  const uint32_t c = crc32c(data, n);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

TensorBoardWriter::TensorBoardWriter(const std::string& folder) {
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  POPO_CHECK(!ec, folder, ": cannot create the TensorBoard folder (", ec.message(), ")");
  const std::string stem = path_join(folder, "events.out.tfevents." +
                                                 std::to_string(static_cast<long long>(std::time(nullptr))) +
                                                 "." + host_name() + "." + std::to_string(::getpid()));
  // O_EXCL: a name another writer (or an earlier invocation) holds is never reused.
  for (int n = 0; fd_ < 0; ++n) {
    path_ = stem + "." + std::to_string(n);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    POPO_CHECK(fd_ >= 0 || errno == EEXIST, path_, ": cannot create the events file (",
               std::strerror(errno), ")");
  }
  tb::Event ev;
  ev.set_wall_time(static_cast<double>(std::time(nullptr)));
  ev.set_file_version("brain.Event:2");
  write_record(ev.SerializeAsString());
}

TensorBoardWriter::~TensorBoardWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void TensorBoardWriter::write_record(const std::string& data) {
  std::string rec;
  rec.reserve(data.size() + 16);
  put_le(&rec, data.size(), 8);
  put_le(&rec, masked_crc32c(rec.data(), 8), 4);
  rec += data;
  put_le(&rec, masked_crc32c(data.data(), data.size()), 4);
  write_all(fd_, rec.data(), rec.size(), path_);  // one record, one write: no torn record in the middle
}

void TensorBoardWriter::write_scalars(int64_t step, double wall_time, const nlohmann::json& fields) {
  POPO_CHECK(fields.is_object(), path_, ": the scalars of step ", step, " are not a JSON object");
  tb::Event ev;
  ev.set_wall_time(wall_time);
  ev.set_step(step);
  tb::Summary* summary = ev.mutable_summary();
  for (const auto& [key, v] : fields.items()) {
    if (key == "step" || !v.is_number()) continue;  // is_number is false for booleans
    const double x = v.get<double>();
    if (!std::isfinite(x)) continue;
    tb::SummaryValue* value = summary->add_value();
    value->set_tag(key);
    value->set_simple_value(static_cast<float>(x));
  }
  write_record(ev.SerializeAsString());
}

void TensorBoardWriter::write_session_start(int64_t step, double wall_time) {
  tb::Event ev;
  ev.set_wall_time(wall_time);
  ev.set_step(step);
  ev.mutable_session_log()->set_status(tb::SessionLog::START);
  write_record(ev.SerializeAsString());
}

std::vector<TensorBoardEvent> read_tensorboard_events(const std::string& path) {
  const std::string bytes = read_file(path);
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::vector<TensorBoardEvent> out;
  size_t at = 0;
  while (at < bytes.size()) {
    POPO_CHECK(bytes.size() - at >= 12, path, ": truncated record header at byte ", at, " (",
               bytes.size() - at, " bytes left of 12)");
    const uint64_t len = get_le(p + at, 8);
    POPO_CHECK(get_le(p + at + 8, 4) == masked_crc32c(p + at, 8), path,
               ": bad length checksum of the record at byte ", at);
    POPO_CHECK(len <= bytes.size() - at - 12 && bytes.size() - at - 12 - len >= 4, path,
               ": truncated record at byte ", at, " (length ", len, ", ", bytes.size() - at - 12,
               " bytes left)");
    const unsigned char* data = p + at + 12;
    POPO_CHECK(get_le(data + len, 4) == masked_crc32c(data, len), path,
               ": bad data checksum of the record at byte ", at);
    tb::Event ev;
    POPO_CHECK(ev.ParseFromArray(data, static_cast<int>(len)), path,
               ": the record at byte ", at, " is not an Event");
    TensorBoardEvent e;
    e.wall_time = ev.wall_time();
    e.step = ev.step();
    e.file_version = ev.file_version();
    e.session_start = ev.has_session_log() && ev.session_log().status() == tb::SessionLog::START;
    for (const tb::SummaryValue& v : ev.summary().value()) {
      POPO_CHECK(v.has_simple_value(), path, ": the record at byte ", at, " has a value '", v.tag(),
                 "' without a simple_value (TensorBoard would not show it as a scalar)");
      e.scalars.emplace_back(v.tag(), v.simple_value());
    }
    out.push_back(std::move(e));
    at += 12 + len + 4;
  }
  return out;
}

}  // namespace popo
