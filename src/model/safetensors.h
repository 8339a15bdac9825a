// safetensors reading and writing: the 8-byte little-endian header length, the JSON header
// ({name: {dtype, shape, data_offsets}}, optional __metadata__), then the raw little-endian data.
// Knows nothing about models. Sharded checkpoints (model.safetensors.index.json with a
// weight_map) are resolved by read_safetensors_dir. Mirrors huggingface/safetensors' format spec.
#pragma once

#include <ATen/core/Tensor.h>

#include "core/safetensors_header.h"

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace popo {


// One opened safetensors file: the parsed header; tensors are read on demand.
class SafetensorsFile {
 public:
  // Returns the file with its header parsed and checked (offsets within the file, sizes
  // consistent with dtype and shape). Throws popo::Error naming the file otherwise.
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const { return path_; }
  // Returns the tensor names in header order (sorted, as the format stores a JSON object).
  std::vector<std::string> names() const;
  bool has(const std::string& name) const { return entries_.count(name) > 0; }
  // Returns the header entry of name; throws popo::Error naming the file if absent.
  const SafetensorsEntry& entry(const std::string& name) const;
  // Returns the tensor name as a new CPU tensor of the file's dtype.
  at::Tensor read(const std::string& name) const;
  // Returns elements [first, first + count) of tensor name in its flat (row-major) order as a
  // new 1-D CPU tensor, reading only those bytes. Throws popo::Error outside the tensor.
  at::Tensor read_range(const std::string& name, int64_t first, int64_t count) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::string path_;
  uint64_t data_start_ = 0;
  std::map<std::string, SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Returns every tensor of one safetensors file by name (CPU, file dtype).
std::map<std::string, at::Tensor> read_safetensors(const std::string& path);

// Returns the safetensors files of a model folder: dir/model.safetensors, or the distinct shard
// files named by model.safetensors.index.json. Throws popo::Error naming the folder when neither exists.
std::vector<std::string> safetensors_files(const std::string& dir);

// Returns every tensor of a model folder: model.safetensors, or the shards listed in
// model.safetensors.index.json. Throws popo::Error naming the folder when neither exists.
std::map<std::string, at::Tensor> read_safetensors_dir(const std::string& dir);

// Returns the bytes of a safetensors file holding tensors (any device; written contiguous,
// little-endian) in the given order, with optional string metadata.
std::string encode_safetensors(const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                               const std::map<std::string, std::string>& metadata = {});

// Writes one safetensors file whose tensors arrive in pieces, so no tensor has to exist whole in
// memory: the header (names, dtypes, shapes, in the order given) is written at open, then
// append() adds the data of each tensor in order, piece by piece; close() checks that every byte
// arrived and fsyncs. Writes path directly (callers write inside a folder that is renamed into
// place, as a checkpoint's temporary folder). Throws popo::Error naming the path.
class SafetensorsStreamWriter {
 public:
  struct Spec {
    std::string name;
    c10::ScalarType dtype;
    std::vector<int64_t> shape;
  };
  SafetensorsStreamWriter(const std::string& path, const std::vector<Spec>& tensors);
  ~SafetensorsStreamWriter();
  SafetensorsStreamWriter(const SafetensorsStreamWriter&) = delete;
  SafetensorsStreamWriter& operator=(const SafetensorsStreamWriter&) = delete;
  // Appends the bytes of piece (its dtype must be the current tensor's) to the data section.
  void append(const at::Tensor& piece);
  void close();

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t expected_ = 0, written_ = 0;
};

// Writes tensors to path atomically (core/io.h write_file_atomic).
void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace popo
