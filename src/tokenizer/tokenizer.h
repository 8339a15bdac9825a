// popo::Tokenizer: Hugging Face tokenizers-exact byte-level BPE loaded from tokenizer.json.
// The pipeline mirrors tokenizers' TokenizerImpl::encode / decode: added tokens that are not
// `normalized` are split off the raw text first (leftmost-longest, honouring lstrip / rstrip /
// single_word), then each remaining piece is normalised (normalizer.h), `normalized` added tokens
// are split off, the rest is pre-tokenized (pre_tokenizer.h) and run through BPE (bpe.h).
// decode() maps ids back through the ByteLevel decoder and repairs invalid UTF-8 with U+FFFD as
// String::from_utf8_lossy does. Not done: post-processing (no BOS/EOS is ever added; the
// post_processor section is accepted and ignored), offsets, padding/truncation, the
// clean_up_tokenization_spaces step of transformers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace popo {

// One entry of tokenizer.json `added_tokens`.
struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = false;
};

class Tokenizer {
 public:
  // An empty tokenizer; every method except loaded() throws popo::Error until one is assigned.
  Tokenizer() = default;

  // Returns the tokenizer read from a tokenizer.json file; errors name the path.
  static Tokenizer from_file(const std::string& path);
  // Returns the tokenizer parsed from tokenizer.json text; errors name origin.
  static Tokenizer from_json(const std::string& blob, const std::string& origin);

  // Returns the ids of text (no BOS/EOS added). Invalid UTF-8 in text is first replaced by
  // U+FFFD. Thread-safe.
  std::vector<int32_t> encode(const std::string& text) const;
  // As encode(), bypassing the word cache (a baseline for bench/bench_tokenizer).
  std::vector<int32_t> encode_uncached(const std::string& text) const;
  // Returns the text of ids; ids outside the vocabulary are skipped (as HF does), special added
  // tokens are dropped when skip_special_tokens. Invalid UTF-8 becomes U+FFFD.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;

  // Returns largest id + 1, added tokens included.
  int32_t vocab_size() const;
  // Returns the id of a token string (byte-level spelling, or an added token's content); -1 when
  // absent.
  int32_t token_to_id(const std::string& token) const;
  // Returns the token string of id (byte-level spelling, or an added token's content); "" when
  // id is not in the vocabulary.
  std::string id_to_token(int32_t id) const;
  // Returns true if id is an added token marked special.
  bool is_special(int32_t id) const;
  // Returns the added tokens in file order.
  const std::vector<AddedToken>& added_tokens() const;
  // Returns the origin (path or label) this tokenizer was loaded from.
  const std::string& origin() const;
  // Returns true unless default-constructed.
  bool loaded() const { return impl_ != nullptr; }

 private:
  struct Impl;
  static Tokenizer from_json_checked(const std::string& blob, const std::string& origin);
  const Impl& impl() const;
  std::vector<int32_t> encode_impl(const std::string& text, bool use_cache) const;
  std::shared_ptr<const Impl> impl_;  // immutable after loading: copies share it
};

}  // namespace popo
