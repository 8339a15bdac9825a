// Encode/decode of arbitrary bytes against the real Qwen2.5 vocabulary (tests/fixtures): every id
// is in the vocabulary, and for valid UTF-8 decode(encode(x)) is x after the tokenizer's own NFC
// normalizer (byte-level BPE loses nothing else).
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/build_paths.h"
#include "fuzz_util.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/tokenizer.h"

namespace {
const popo::Tokenizer& qwen() {
  static const popo::Tokenizer tok =
      popo::Tokenizer::from_file(std::string(popo::build_fixtures_dir()) + "/tokenizers/qwen/tokenizer.json");
  return tok;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const popo::Tokenizer& tok = qwen();
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::vector<int32_t> ids = tok.encode(text);
  const int32_t n = tok.vocab_size();
  for (int32_t id : ids) FUZZ_CHECK(id >= 0 && id < n, "id ", id, " outside the vocabulary of ", n);
  const std::string back = tok.decode(ids);
  if (popo::is_valid_utf8(text)) {
    const std::string want = popo::nfc(text);
    FUZZ_CHECK(back == want, "decode(encode(x)) != nfc(x) for ", ids.size(), " ids");
  } else {
    FUZZ_CHECK(popo::is_valid_utf8(back), "decode gave invalid UTF-8");
  }
  return 0;
}
