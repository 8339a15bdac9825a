// The safetensors header: arbitrary bytes as a whole file. A header that parses must describe
// tensors that lie inside the data section with exactly their dtype's and shape's size.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/safetensors_header.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view file(reinterpret_cast<const char*>(data), size);
  popo::fuzz::only_popo_errors("parse_safetensors_header", [&] {
    const uint64_t len = popo::safetensors_header_length(file.substr(0, 8), size, "<fuzz>");
    const popo::SafetensorsHeader h = popo::parse_safetensors_header(file.substr(8, len), size, "<fuzz>");
    FUZZ_CHECK(h.data_start == 8 + len, "data_start ", h.data_start);
    const uint64_t data_size = size - h.data_start;
    for (const auto& [name, e] : h.entries) {
      FUZZ_CHECK(e.begin <= e.end && e.end <= data_size, name, " [", e.begin, ", ", e.end, ") outside ", data_size);
      unsigned __int128 bytes = popo::safetensors_dtype_size(e.dtype);
      for (int64_t d : e.shape) {
        FUZZ_CHECK(d >= 0, name, " negative dimension");
        bytes *= static_cast<uint64_t>(d);
        if (bytes > data_size) break;
      }
      FUZZ_CHECK(bytes == e.end - e.begin, name, " size does not match its span");
    }
  });
  return 0;
}
