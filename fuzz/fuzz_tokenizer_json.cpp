// tokenizer.json parsing: arbitrary bytes as a tokenizer file. A file that loads must then encode
// and decode without failing.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string blob(reinterpret_cast<const char*>(data), size);
  popo::fuzz::only_popo_errors("Tokenizer::from_json", [&] {
    popo::Tokenizer tok = popo::Tokenizer::from_json(blob, "<fuzz>");
    const std::vector<int32_t> ids = tok.encode("Hello, world! 12 + 34 = \\boxed{46} \xe4\xbd\xa0\xe5\xa5\xbd");
    const int32_t n = tok.vocab_size();
    for (int32_t id : ids) FUZZ_CHECK(id >= 0 && id < n, "id ", id, " outside the vocabulary of ", n);
    (void)tok.decode(ids);
    (void)tok.decode({0, 1, 2, n, -1, 1 << 30}, /*skip_special_tokens=*/true);
  });
  return 0;
}
