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

// Writes tensors to path atomically (core/io.h write_file_atomic).
void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace popo
