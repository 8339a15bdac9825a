// The BPE model stage of the tokenizer.json pipeline (HF tokenizers `model` with type "BPE",
// byte-level): vocabulary, merges by rank, word -> ids with a small cache. Mirrors
// tokenizers::models::bpe::Word::merge_all: repeatedly apply the lowest-rank merge, leftmost
// first. Not supported: dropout, byte_fallback, continuing_subword_prefix, end_of_word_suffix,
// and vocabularies lacking any of the 256 byte-level tokens (popo::Error names the part).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace popo {

// Token ids are below 2^24: tables are sized by the largest id, and real vocabularies have a few
// hundred thousand tokens. A larger id in a tokenizer.json is refused.
constexpr int64_t kMaxTokenId = int64_t{1} << 24;

class Bpe {
 public:
  // Returns the model described by the tokenizer.json `model` value. Merges may be "a b"
  // strings or ["a", "b"] pairs. Throws popo::Error naming origin and the unsupported part.
  static Bpe from_json(const nlohmann::json& model, const std::string& origin);

  // Appends the ids of one pre-tokenized word (raw bytes) to out. use_cache=false bypasses the
  // word cache (for benchmarks).
  void encode_word(const std::string& word, std::vector<int32_t>& out, bool use_cache = true) const {
    encode_word(word.data(), word.size(), out, use_cache);
  }
  void encode_word(const char* data, size_t size, std::vector<int32_t>& out,
                   bool use_cache = true) const;

  // Returns the id of a byte-level token string, or -1.
  int32_t token_to_id(const std::string& token) const;
  // Returns the byte-level token string of id, or "" when id is not in the vocabulary.
  const std::string& id_to_token(int32_t id) const;
  // Returns largest id + 1 of the model vocabulary.
  int32_t size() const { return static_cast<int32_t>(id_to_token_.size()); }
  // Returns the rank of merge (a, b) (byte-level strings), or -1 if there is no such merge.
  int32_t merge_rank(const std::string& a, const std::string& b) const;

  Bpe() = default;
  Bpe(const Bpe& other);
  Bpe& operator=(const Bpe& other) = delete;
  Bpe(Bpe&& other) noexcept;

 private:
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  static uint64_t pair_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  void merge_word(const char* data, size_t size, std::vector<int32_t>& symbols) const;
  void merge_long_word(std::vector<int32_t>& symbols) const;
  static constexpr size_t kLongWordSymbols = 64;  // above this, merge with a heap

  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<std::string> id_to_token_;
  std::unordered_map<uint64_t, Merge> merges_;
  int32_t byte_ids_[256] = {};
  bool ignore_merges_ = false;

  static constexpr size_t kCacheCapacity = 10000;
  static constexpr size_t kMaxCachedWordBytes = 256;
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace popo
