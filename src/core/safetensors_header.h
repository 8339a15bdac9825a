// The torch-free half of safetensors: the header of a file (8-byte little-endian length, then a
// JSON object {name: {dtype, shape, data_offsets}} with optional __metadata__) and the
// model.safetensors.index.json of a sharded folder. model/safetensors.h reads tensors on top of
// it. Every check names the file: inputs come from anywhere (fuzzed in fuzz/).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace popo {

struct SafetensorsEntry {
  std::string dtype;           // "F32" | "BF16" | "F16" | "F64" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL"
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0; // byte offsets into the data section
};

struct SafetensorsHeader {
  uint64_t data_start = 0;                          // 8 + header length
  std::map<std::string, SafetensorsEntry> entries;  // by tensor name
  std::map<std::string, std::string> metadata;      // __metadata__'s string values
};

// Returns the bytes per element of a safetensors dtype name, or 0 for an unknown one.
size_t safetensors_dtype_size(const std::string& dtype);

// Returns the header length stored in a file's first 8 bytes, checked against the format's
// 100 MB limit and the file_size; throws popo::Error naming path otherwise.
uint64_t safetensors_header_length(std::string_view first8, uint64_t file_size, const std::string& path);

// Returns the parsed and checked header: header_json is the header's bytes, file_size the whole
// file's. Every entry has a known dtype, a shape whose byte size fits 64 bits and equals its
// offsets' span, and lies inside the data section. Throws popo::Error naming path and the
// tensor otherwise.
SafetensorsHeader parse_safetensors_header(std::string_view header_json, uint64_t file_size,
                                           const std::string& path);

// Returns the (tensor name, shard file) pairs of a model.safetensors.index.json's weight_map, in
// name order. A shard must be a plain file name inside the folder (no '/', not '.' or '..').
// Throws popo::Error naming path otherwise.
std::vector<std::pair<std::string, std::string>> parse_safetensors_index(const std::string& text,
                                                                         const std::string& path);

}  // namespace popo
