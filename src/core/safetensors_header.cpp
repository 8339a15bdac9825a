#include "core/safetensors_header.h"

#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace popo {

namespace {

using nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = 100ull * 1024 * 1024;  // the format's own limit

struct DtypeSize {
  const char* name;
  size_t bytes;
};
const DtypeSize kDtypeSizes[] = {{"F32", 4}, {"BF16", 2}, {"F16", 2}, {"F64", 8}, {"I64", 8},
                                 {"I32", 4}, {"I16", 2},  {"I8", 1},  {"U8", 1},  {"BOOL", 1}};

}  // namespace

size_t safetensors_dtype_size(const std::string& dtype) {
  for (const auto& d : kDtypeSizes) {
    if (dtype == d.name) return d.bytes;
  }
  return 0;
}

uint64_t safetensors_header_length(std::string_view first8, uint64_t file_size, const std::string& path) {
  POPO_CHECK(first8.size() >= 8 && file_size >= 8, path, ": truncated safetensors file (", file_size,
             " bytes; the 8-byte header length is missing)");
  uint64_t len = 0;
  for (int i = 7; i >= 0; --i) len = (len << 8) | static_cast<unsigned char>(first8[static_cast<size_t>(i)]);
  POPO_CHECK(len <= kMaxHeaderBytes && len <= file_size - 8, path,
             ": corrupt or truncated safetensors header (header length ", len, " bytes, file has ",
             file_size - 8, " bytes after the length field)");
  return len;
}

SafetensorsHeader parse_safetensors_header(std::string_view header_json, uint64_t file_size,
                                           const std::string& path) {
  SafetensorsHeader out;
  out.data_start = 8 + header_json.size();
  POPO_CHECK(file_size >= out.data_start, path, ": truncated safetensors file (", file_size,
             " bytes, the header alone needs ", out.data_start, ")");
  json h;
  try {
    h = json::parse(header_json.begin(), header_json.end());
  } catch (const json::exception& e) {
    POPO_FAIL(path, ": corrupt safetensors header (not valid JSON: ", e.what(), ")");
  }
  POPO_CHECK(h.is_object(), path, ": corrupt safetensors header (expected a JSON object, got ", h.type_name(), ")");
  const uint64_t data_size = file_size - out.data_start;
  for (auto it = h.begin(); it != h.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (it->is_object()) {
        for (auto m = it->begin(); m != it->end(); ++m) {
          if (m->is_string()) out.metadata[m.key()] = m->get<std::string>();
        }
      }
      continue;
    }
    const json& v = it.value();
    POPO_CHECK(v.is_object() && v.contains("dtype") && v.contains("shape") && v.contains("data_offsets"),
               path, ": corrupt safetensors header (entry '", it.key(), "' lacks dtype, shape or data_offsets)");
    SafetensorsEntry e;
    try {
      e.dtype = v.at("dtype").get<std::string>();
      e.shape = v.at("shape").get<std::vector<int64_t>>();
      auto off = v.at("data_offsets").get<std::vector<uint64_t>>();
      POPO_CHECK(off.size() == 2, path, ": corrupt safetensors header (tensor '", it.key(),
                 "' data_offsets must have 2 entries)");
      e.begin = off[0];
      e.end = off[1];
    } catch (const json::exception& ex) {
      POPO_FAIL(path, ": corrupt safetensors header (tensor '", it.key(), "': ", ex.what(), ")");
    }
    const size_t esize = safetensors_dtype_size(e.dtype);
    POPO_CHECK(esize > 0, path, ": tensor '", it.key(), "' has dtype '", e.dtype,
               "', which is not supported (expected F32, BF16, F16, F64, I64, I32, I16, I8, U8 or BOOL)");
    // The byte size, refusing shapes whose size does not fit 64 bits (else it would wrap and
    // could match a small span).
    uint64_t nbytes = esize;
    for (int64_t d : e.shape) {
      POPO_CHECK(d >= 0, path, ": corrupt safetensors header (tensor '", it.key(), "' has a negative dimension)");
      const uint64_t du = static_cast<uint64_t>(d);
      POPO_CHECK(du == 0 || nbytes <= std::numeric_limits<uint64_t>::max() / du, path,
                 ": corrupt safetensors header (tensor '", it.key(), "' has a shape too large to address)");
      nbytes *= du;
    }
    POPO_CHECK(e.begin <= e.end && e.end - e.begin == nbytes, path, ": corrupt safetensors header (tensor '",
               it.key(), "' spans ", e.begin <= e.end ? e.end - e.begin : 0, " bytes from offsets [", e.begin,
               ", ", e.end, "], its dtype and shape need ", nbytes, ")");
    POPO_CHECK(e.end <= data_size, path, ": truncated safetensors file (tensor '", it.key(), "' ends at byte ",
               e.end, " of the data section, which has only ", data_size, " bytes)");
    out.entries[it.key()] = std::move(e);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> parse_safetensors_index(const std::string& text,
                                                                         const std::string& path) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    POPO_FAIL(path, ": not valid JSON (", e.what(), ")");
  }
  POPO_CHECK(j.is_object() && j.contains("weight_map") && j.at("weight_map").is_object(), path,
             ": key 'weight_map' is missing (expected an object {tensor name: shard file})");
  std::vector<std::pair<std::string, std::string>> out;
  for (auto it = j.at("weight_map").begin(); it != j.at("weight_map").end(); ++it) {
    POPO_CHECK(it->is_string(), path, ": weight_map['", it.key(), "'] must be a shard file name, got ",
               it->type_name());
    const std::string shard = it->get<std::string>();
    POPO_CHECK(!shard.empty() && shard != "." && shard != ".." && shard.find('/') == std::string::npos &&
                   shard.find('\0') == std::string::npos,
               path, ": weight_map['", it.key(), "'] = '", shard,
               "' is not a file name inside the model folder");
    out.emplace_back(it.key(), shard);
  }
  return out;
}

}  // namespace popo
