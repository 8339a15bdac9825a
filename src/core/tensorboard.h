// TensorBoard event files: every scalar of a metrics row as an Event at its step, in the
// TFRecord framing TensorBoard reads (uint64 length, masked CRC32C of the length, the
// serialized Event, masked CRC32C of the data; all little-endian), and the reader the tests use
// to check a file record by record. The messages are our own minimal .proto with TensorBoard's
// field numbers (core/tensorboard_event.proto), encoded by protobuf; no protobuf header leaks
// out of tensorboard.cpp. What it does not do: images, histograms, text, or reading TensorFlow's
// own files beyond the fields above.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>
#include <vector>

namespace popo {

// Returns the CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of n bytes.
uint32_t crc32c(const void* data, size_t n);
// Returns TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t masked_crc32c(const void* data, size_t n);

class TensorBoardWriter {
 public:
  // Creates folder (and its parents) and a new file in it named
  // events.out.tfevents.<unix seconds>.<host>.<pid>.<n>, with n the first number whose name is
  // free (so a resumed run never appends to an old file; TensorBoard reads every file of the
  // folder). Writes the opening Event (file_version "brain.Event:2"). Throws popo::Error naming
  // the path when it cannot be created.
  explicit TensorBoardWriter(const std::string& folder);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // Writes one Event at step with a Summary value per key of the flat JSON object fields whose
  // value is a finite number (booleans, strings, nulls, NaN and infinities are skipped: a
  // TensorBoard scalar is a float). A key "step" is skipped (the Event's own step). Each record
  // is written whole with one write; a failed write throws popo::Error naming the file.
  void write_scalars(int64_t step, double wall_time, const nlohmann::json& fields);

  // Writes a SessionLog START at step: TensorBoard then drops the points of earlier files at
  // this step and after (what a run resumed from the checkpoint before step wrote past it).
  void write_session_start(int64_t step, double wall_time);

  // Returns the file's path.
  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& data);
  std::string path_;
  int fd_ = -1;
};

// One Event of a file, as read back.
struct TensorBoardEvent {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;    // the opening event's, else ""
  bool session_start = false;  // a SessionLog START
  std::vector<std::pair<std::string, float>> scalars;  // (tag, simple_value), in file order
};

// Returns the events of a file, checking every record: its length CRC, its data CRC and that
// the data parses as an Event. Throws popo::Error naming the file and the byte offset of the
// record for a bad CRC, an unparsable record or a truncated one.
std::vector<TensorBoardEvent> read_tensorboard_events(const std::string& path);

}  // namespace popo
