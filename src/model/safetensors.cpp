#include "model/safetensors.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io.h"

namespace popo {

namespace {

using nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = 100ull * 1024 * 1024;  // the format's own limit

struct DtypeInfo {
  const char* name;
  c10::ScalarType type;
};

const DtypeInfo kDtypes[] = {
    {"F32", c10::kFloat}, {"BF16", c10::kBFloat16}, {"F16", c10::kHalf}, {"F64", c10::kDouble},
    {"I64", c10::kLong},  {"I32", c10::kInt},       {"I16", c10::kShort}, {"I8", c10::kChar},
    {"U8", c10::kByte},   {"BOOL", c10::kBool},
};

// Returns the torch type of a safetensors dtype name, or throws naming the file.
c10::ScalarType scalar_type_of(const std::string& dtype, const std::string& path, const std::string& name) {
  for (const auto& d : kDtypes) {
    if (dtype == d.name) return d.type;
  }
  POPO_FAIL(path, ": tensor '", name, "' has dtype '", dtype,
            "', which is not supported (expected F32, BF16, F16, F64, I64, I32, I16, I8, U8 or BOOL)");
}

std::string dtype_name_of(c10::ScalarType t) {
  for (const auto& d : kDtypes) {
    if (t == d.type) return d.name;
  }
  POPO_FAIL("cannot write tensors of dtype ", c10::toString(t), " to safetensors");
}

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile f;
  f.path_ = path;
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  POPO_CHECK(in.good(), path, ": cannot open safetensors file (", std::strerror(errno), ")");
  const uint64_t file_size = static_cast<uint64_t>(in.tellg());
  POPO_CHECK(file_size >= 8, path, ": truncated safetensors file (", file_size,
             " bytes; the 8-byte header length is missing)");
  in.seekg(0);
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  POPO_CHECK(header_len <= kMaxHeaderBytes && header_len <= file_size - 8, path,
             ": corrupt or truncated safetensors header (header length ", header_len,
             " bytes, file has ", file_size - 8, " bytes after the length field)");
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  POPO_CHECK(in.good(), path, ": cannot read the safetensors header");
  json h;
  try {
    h = json::parse(header);
  } catch (const json::parse_error& e) {
    POPO_FAIL(path, ": corrupt safetensors header (not valid JSON: ", e.what(), ")");
  }
  POPO_CHECK(h.is_object(), path, ": corrupt safetensors header (expected a JSON object)");
  f.data_start_ = 8 + header_len;
  const uint64_t data_size = file_size - f.data_start_;
  for (auto it = h.begin(); it != h.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (it->is_object()) {
        for (auto m = it->begin(); m != it->end(); ++m) {
          if (m->is_string()) f.metadata_[m.key()] = m->get<std::string>();
        }
      }
      continue;
    }
    const json& v = it.value();
    POPO_CHECK(v.is_object() && v.contains("dtype") && v.contains("shape") && v.contains("data_offsets"),
               path, ": corrupt safetensors header (entry '", it.key(),
               "' lacks dtype, shape or data_offsets)");
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
    const auto type = scalar_type_of(e.dtype, path, it.key());
    uint64_t numel = 1;
    for (int64_t d : e.shape) {
      POPO_CHECK(d >= 0, path, ": corrupt safetensors header (tensor '", it.key(), "' has a negative dimension)");
      numel *= static_cast<uint64_t>(d);
    }
    const uint64_t nbytes = numel * c10::elementSize(type);
    POPO_CHECK(e.begin <= e.end && e.end - e.begin == nbytes, path, ": corrupt safetensors header (tensor '",
               it.key(), "' spans ", e.end - e.begin, " bytes, its dtype and shape need ", nbytes, ")");
    POPO_CHECK(e.end <= data_size, path, ": truncated safetensors file (tensor '", it.key(), "' ends at byte ",
               e.end, " of the data section, which has only ", data_size, " bytes)");
    f.entries_[it.key()] = std::move(e);
  }
  return f;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& kv : entries_) out.push_back(kv.first);
  return out;
}

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  auto it = entries_.find(name);
  POPO_CHECK(it != entries_.end(), path_, ": no tensor named '", name, "'");
  return it->second;
}

at::Tensor SafetensorsFile::read(const std::string& name) const {
  const SafetensorsEntry& e = entry(name);
  const auto type = scalar_type_of(e.dtype, path_, name);
  at::Tensor t = torch::empty(e.shape, torch::TensorOptions().dtype(type));
  std::ifstream in(path_, std::ios::binary);
  POPO_CHECK(in.good(), path_, ": cannot open safetensors file");
  in.seekg(static_cast<std::streamoff>(data_start_ + e.begin));
  in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(e.end - e.begin));
  POPO_CHECK(in.good(), path_, ": short read of tensor '", name, "'");
  return t;
}

std::map<std::string, at::Tensor> read_safetensors(const std::string& path) {
  SafetensorsFile f = SafetensorsFile::open(path);
  std::map<std::string, at::Tensor> out;
  for (const auto& name : f.names()) out[name] = f.read(name);
  return out;
}

namespace {
// Returns the parsed weight_map of an index file.
nlohmann::json read_weight_map(const std::string& index) {
  json j;
  try {
    j = json::parse(read_file(index));
  } catch (const json::parse_error& e) {
    POPO_FAIL(index, ": not valid JSON (", e.what(), ")");
  }
  POPO_CHECK(j.contains("weight_map") && j.at("weight_map").is_object(), index, ": key 'weight_map' is missing");
  return j.at("weight_map");
}
}  // namespace

std::vector<std::string> safetensors_files(const std::string& dir) {
  const std::string single = path_join(dir, "model.safetensors");
  const std::string index = path_join(dir, "model.safetensors.index.json");
  if (path_exists(single)) return {single};
  POPO_CHECK(path_exists(index), dir, ": no model.safetensors or model.safetensors.index.json in the model folder");
  std::vector<std::string> files;
  for (const auto& shard : read_weight_map(index)) {
    const std::string f = path_join(dir, shard.get<std::string>());
    if (std::find(files.begin(), files.end(), f) == files.end()) files.push_back(f);
  }
  return files;
}

std::map<std::string, at::Tensor> read_safetensors_dir(const std::string& dir) {
  const std::string single = path_join(dir, "model.safetensors");
  const std::string index = path_join(dir, "model.safetensors.index.json");
  if (path_exists(single)) return read_safetensors(single);
  POPO_CHECK(path_exists(index), dir, ": no model.safetensors or model.safetensors.index.json in the model folder");
  const json weight_map = read_weight_map(index);
  std::map<std::string, std::vector<std::string>> by_shard;
  for (auto it = weight_map.begin(); it != weight_map.end(); ++it) {
    by_shard[it->get<std::string>()].push_back(it.key());
  }
  std::map<std::string, at::Tensor> out;
  for (const auto& [shard, names] : by_shard) {
    SafetensorsFile f = SafetensorsFile::open(path_join(dir, shard));
    for (const auto& name : names) {
      POPO_CHECK(f.has(name), index, ": weight_map puts '", name, "' in ", shard, ", which lacks it");
      out[name] = f.read(name);
    }
  }
  return out;
}

std::string encode_safetensors(const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                               const std::map<std::string, std::string>& metadata) {
  json h = json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  uint64_t offset = 0;
  std::vector<at::Tensor> cpu;
  cpu.reserve(tensors.size());
  for (const auto& [name, t] : tensors) {
    at::Tensor c = t.detach().to(torch::kCPU).contiguous();
    const uint64_t n = static_cast<uint64_t>(c.numel()) * c.element_size();
    h[name] = {{"dtype", dtype_name_of(c.scalar_type())},
               {"shape", c.sizes().vec()},
               {"data_offsets", {offset, offset + n}}};
    offset += n;
    cpu.push_back(std::move(c));
  }
  std::string header = h.dump();
  header.append((8 - header.size() % 8) % 8, ' ');  // align the data section to 8 bytes
  std::string out;
  out.reserve(8 + header.size() + offset);
  uint64_t len = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  out += header;
  for (const auto& c : cpu) {
    out.append(static_cast<const char*>(c.data_ptr()), static_cast<size_t>(c.numel()) * c.element_size());
  }
  return out;
}

void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  write_file_atomic(path, encode_safetensors(tensors, metadata));
}

}  // namespace popo
