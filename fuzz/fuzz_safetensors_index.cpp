// model.safetensors.index.json: arbitrary bytes as an index. Every shard it yields is a plain file
// name inside the model folder.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/safetensors_header.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  popo::fuzz::only_popo_errors("parse_safetensors_index", [&] {
    for (const auto& [name, shard] : popo::parse_safetensors_index(text, "<fuzz>")) {
      FUZZ_CHECK(!shard.empty() && shard.find('/') == std::string::npos && shard != ".." && shard != ".",
                 "shard '", shard, "' escapes the folder");
    }
  });
  return 0;
}
