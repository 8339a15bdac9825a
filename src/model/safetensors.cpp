#include "model/safetensors.h"

#include <unistd.h>

#include <fcntl.h>

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
  in.seekg(0);
  char len_bytes[8] = {};
  if (file_size >= 8) in.read(len_bytes, 8);
  const uint64_t header_len = safetensors_header_length(std::string_view(len_bytes, file_size >= 8 ? 8 : 0),
                                                        file_size, path);
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  POPO_CHECK(in.good(), path, ": cannot read the safetensors header");
  SafetensorsHeader h = parse_safetensors_header(header, file_size, path);
  f.data_start_ = h.data_start;
  f.entries_ = std::move(h.entries);
  f.metadata_ = std::move(h.metadata);
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

at::Tensor SafetensorsFile::read_range(const std::string& name, int64_t first, int64_t count) const {
  const SafetensorsEntry& e = entry(name);
  const auto type = scalar_type_of(e.dtype, path_, name);
  const int64_t elem = int64_t(c10::elementSize(type));
  const int64_t numel = int64_t(e.end - e.begin) / elem;
  POPO_CHECK(first >= 0 && count >= 0 && first + count <= numel, path_, ": elements [", first, ", ",
             first + count, ") outside tensor '", name, "' of ", numel);
  at::Tensor t = torch::empty({count}, torch::TensorOptions().dtype(type));
  if (count == 0) return t;
  std::ifstream in(path_, std::ios::binary);
  POPO_CHECK(in.good(), path_, ": cannot open safetensors file");
  in.seekg(static_cast<std::streamoff>(data_start_ + e.begin + uint64_t(first * elem)));
  in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(count * elem));
  POPO_CHECK(in.good(), path_, ": short read of tensor '", name, "'");
  return t;
}

SafetensorsStreamWriter::SafetensorsStreamWriter(const std::string& path, const std::vector<Spec>& tensors)
    : path_(path) {
  json h = json::object();
  for (const Spec& t : tensors) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    const uint64_t bytes = uint64_t(n) * c10::elementSize(t.dtype);
    h[t.name] = {{"dtype", dtype_name_of(t.dtype)}, {"shape", t.shape}, {"data_offsets", {expected_, expected_ + bytes}}};
    expected_ += bytes;
  }
  std::string header = h.dump();
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string head;
  const uint64_t len = header.size();
  for (int i = 0; i < 8; ++i) head.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  head += header;
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  POPO_CHECK(fd_ >= 0, path_, ": cannot create (", std::strerror(errno), ")");
  write_all(fd_, head.data(), head.size(), path_);
}

SafetensorsStreamWriter::~SafetensorsStreamWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void SafetensorsStreamWriter::append(const at::Tensor& piece) {
  at::Tensor c = piece.detach().to(torch::kCPU).contiguous();
  const size_t n = size_t(c.numel()) * c.element_size();
  POPO_CHECK(written_ + n <= expected_, path_, ": more data than the header announced");
  write_all(fd_, static_cast<const char*>(c.data_ptr()), n, path_);
  written_ += n;
}

void SafetensorsStreamWriter::close() {
  POPO_CHECK(written_ == expected_, path_, ": ", written_, " data bytes written, the header announced ", expected_);
  POPO_CHECK(::fsync(fd_) == 0, path_, ": fsync failed (", std::strerror(errno), ")");
  ::close(fd_);
  fd_ = -1;
}

std::map<std::string, at::Tensor> read_safetensors(const std::string& path) {
  SafetensorsFile f = SafetensorsFile::open(path);
  std::map<std::string, at::Tensor> out;
  for (const auto& name : f.names()) out[name] = f.read(name);
  return out;
}

namespace {
// Returns the (tensor, shard) pairs of an index file.
std::vector<std::pair<std::string, std::string>> read_weight_map(const std::string& index) {
  return parse_safetensors_index(read_file(index), index);
}
}  // namespace

std::vector<std::string> safetensors_files(const std::string& dir) {
  const std::string single = path_join(dir, "model.safetensors");
  const std::string index = path_join(dir, "model.safetensors.index.json");
  if (path_exists(single)) return {single};
  POPO_CHECK(path_exists(index), dir, ": no model.safetensors or model.safetensors.index.json in the model folder");
  std::vector<std::string> files;
  for (const auto& [name, shard] : read_weight_map(index)) {
    const std::string f = path_join(dir, shard);
    if (std::find(files.begin(), files.end(), f) == files.end()) files.push_back(f);
  }
  return files;
}

std::map<std::string, at::Tensor> read_safetensors_dir(const std::string& dir) {
  const std::string single = path_join(dir, "model.safetensors");
  const std::string index = path_join(dir, "model.safetensors.index.json");
  if (path_exists(single)) return read_safetensors(single);
  POPO_CHECK(path_exists(index), dir, ": no model.safetensors or model.safetensors.index.json in the model folder");
  std::map<std::string, std::vector<std::string>> by_shard;
  for (const auto& [name, shard] : read_weight_map(index)) by_shard[shard].push_back(name);
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
