// Pre-tokenizer stage of the tokenizer.json pipeline (HF tokenizers `pre_tokenizer` section):
// Split by regex (PCRE2 in UTF + UCP mode, standing in for tokenizers' Oniguruma), ByteLevel
// (optionally with the GPT-2 regex and a prefix space), and Sequence of those. Also the GPT-2
// byte <-> unicode table that ByteLevel and its decoder share (tokenizers' bytes_char()).
// Not supported: Whitespace, Metaspace, Digits, Punctuation, BertPreTokenizer and Split
// behaviours other than Isolated/Removed or with invert=true; they throw popo::Error.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace popo {

// The GPT-2 byte -> unicode code point table: printable bytes map to themselves, the others to
// U+0100 + n in byte order.
const std::array<char32_t, 256>& byte_to_unicode();
// Returns the byte whose byte-level code point is cp, or -1 if cp is not in the table.
int unicode_to_byte(char32_t cp);
// Returns the byte-level (UTF-8) spelling of raw bytes: "Ġhello" for " hello".
std::string bytes_to_byte_level(const std::string& bytes);
// Returns the raw bytes of a byte-level string, or false if a code point is outside the table.
bool byte_level_to_bytes(const std::string& byte_level, std::string& bytes);

// The Qwen2 split regex (tokenizer.json of Qwen2/Qwen2.5, also used by bpe_trainer).
extern const char* const kQwen2SplitRegex;
// The GPT-2 regex used by ByteLevel when use_regex is true.
extern const char* const kGpt2SplitRegex;

// A compiled PCRE2 pattern (UTF + UCP, JIT when available); cheap to copy.
class Regex {
 public:
  Regex() = default;
  // Compiles pattern (literal when literal=true). Throws popo::Error naming origin on failure.
  Regex(const std::string& pattern, bool literal, const std::string& origin);
  // Returns the [start, end) byte ranges of the non-overlapping matches in text (valid UTF-8).
  std::vector<std::pair<size_t, size_t>> find_all(const std::string& text) const;
  // Calls fn(start, end) for each non-overlapping match in data[0, size) (valid UTF-8). fn may
  // itself run regex matches.
  void for_each_match(const char* data, size_t size,
                      const std::function<void(size_t, size_t)>& fn) const;

 private:
  std::shared_ptr<void> code_;  // pcre2_code_8*
};

class PreTokenizer {
 public:
  // Returns the pre-tokenizer described by the tokenizer.json `pre_tokenizer` value.
  // Throws popo::Error naming origin and the unsupported part.
  static PreTokenizer from_json(const nlohmann::json& j, const std::string& origin);
  // Returns the words of text (raw UTF-8 bytes, not yet byte-level mapped), appended to out.
  void split(const std::string& text, std::vector<std::string>& out) const;
  using WordFn = std::function<void(const char* data, size_t size)>;
  // Calls fn for each word of data[0, size) in order, without copying (the pointer is valid only
  // during the call).
  void for_each_word(const char* data, size_t size, const WordFn& fn) const;

 private:
  struct Step {
    enum Kind { kSplitIsolated, kSplitRemoved, kByteLevel } kind;
    Regex regex;          // kSplit*, and kByteLevel when use_regex
    bool use_regex = false;
    bool add_prefix_space = false;
  };
  void run(size_t step, const char* data, size_t size, const WordFn& fn) const;
  static void add_step(const nlohmann::json& j, const std::string& origin,
                       std::vector<Step>& steps);
  std::vector<Step> steps_;
};

}  // namespace popo
