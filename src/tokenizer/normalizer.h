// Normalizer stage of the tokenizer.json pipeline (HF tokenizers `normalizer` section): NFC via
// utf8proc, plus the UTF-8 helpers the other stages share (lossy repair with U+FFFD, Unicode
// White_Space). Mirrors tokenizers' normalizers::unicode::NFC and Rust's String::from_utf8_lossy.
// Not supported: NFD/NFKC/NFKD, Lowercase, Replace, Strip and other normalizer types.
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

namespace popo {

class Normalizer {
 public:
  // Returns the normalizer described by the tokenizer.json `normalizer` value (null, NFC, or a
  // Sequence of those). Throws popo::Error naming origin and the unsupported part.
  static Normalizer from_json(const nlohmann::json& j, const std::string& origin);
  // Returns text normalised (unchanged when no normalizer is configured).
  std::string normalize(const std::string& text) const;
  bool enabled() const { return nfc_; }

 private:
  bool nfc_ = false;
};

// Returns s in Unicode NFC (utf8proc). s must be valid UTF-8.
std::string nfc(const std::string& s);

// Returns bytes as valid UTF-8: each maximal invalid subsequence becomes one U+FFFD, exactly as
// Rust's String::from_utf8_lossy (and so HF `decode`) does.
std::string utf8_lossy(const std::string& bytes);

// Returns true if bytes is valid UTF-8.
bool is_valid_utf8(const std::string& bytes);

// Returns true if code point cp has the Unicode White_Space property (Rust char::is_whitespace).
bool is_unicode_whitespace(char32_t cp);

// Decodes the UTF-8 code point at s[i] (valid UTF-8 assumed), advancing i past it.
char32_t next_code_point(const std::string& s, size_t& i);

// Returns the UTF-8 encoding of cp appended to out.
void append_utf8(std::string& out, char32_t cp);

}  // namespace popo
