// Byte-level BPE model for the tokenizer. See bpe.h.
#include "tokenizer/bpe.h"

#include <climits>
#include <queue>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/pre_tokenizer.h"

namespace popo {

Bpe::Bpe(const Bpe& other)
    : vocab_(other.vocab_),
      id_to_token_(other.id_to_token_),
      merges_(other.merges_),
      ignore_merges_(other.ignore_merges_) {
  std::copy(std::begin(other.byte_ids_), std::end(other.byte_ids_), byte_ids_);
}

Bpe::Bpe(Bpe&& other) noexcept
    : vocab_(std::move(other.vocab_)),
      id_to_token_(std::move(other.id_to_token_)),
      merges_(std::move(other.merges_)),
      ignore_merges_(other.ignore_merges_) {
  std::copy(std::begin(other.byte_ids_), std::end(other.byte_ids_), byte_ids_);
}

Bpe Bpe::from_json(const nlohmann::json& m, const std::string& origin) {
  POPO_CHECK(m.is_object(), origin, ": 'model' must be an object; got ", m.dump().substr(0, 80));
  const std::string type = m.value("type", "BPE");
  POPO_CHECK(type == "BPE", origin, ": model.type '", type, "' is not supported; expected BPE");
  POPO_CHECK(!m.contains("dropout") || m["dropout"].is_null(), origin,
             ": model.dropout is not supported; expected null, got ", m["dropout"].dump());
  POPO_CHECK(!m.value("byte_fallback", false), origin,
             ": model.byte_fallback=true is not supported; expected a byte-level BPE");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (m.contains(key) && !m[key].is_null()) {
      POPO_CHECK(m[key].get<std::string>().empty(), origin, ": model.", key, " '",
                 m[key].get<std::string>(), "' is not supported; expected empty or null");
    }
  }
  POPO_CHECK(m.contains("vocab") && m["vocab"].is_object(), origin,
             ": model.vocab must be an object of token -> id");
  POPO_CHECK(m.contains("merges") && m["merges"].is_array(), origin,
             ": model.merges must be an array");

  Bpe bpe;
  bpe.ignore_merges_ = m.value("ignore_merges", false);
  const auto& vocab = m["vocab"];
  bpe.vocab_.reserve(vocab.size() * 2);
  int32_t max_id = -1;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    // An integer below 2^24 (real vocabularies have a few hundred thousand tokens; the table
    // below is sized by the largest id). Checked before get<>, which converts a float out of
    // range with undefined behaviour (found by fuzz/fuzz_tokenizer_json).
    POPO_CHECK(it.value().is_number_integer(), origin, ": model.vocab id of '", it.key(),
               "' must be an integer; got ", it.value().dump());
    const int64_t id = it.value().get<int64_t>();
    POPO_CHECK(id >= 0 && id < kMaxTokenId, origin, ": model.vocab id of '", it.key(),
               "' must be in [0, 2^24); got ", id);
    bpe.vocab_.emplace(it.key(), static_cast<int32_t>(id));
    max_id = std::max(max_id, static_cast<int32_t>(id));
  }
  bpe.id_to_token_.assign(static_cast<size_t>(max_id + 1), std::string());
  for (const auto& [tok, id] : bpe.vocab_) bpe.id_to_token_[id] = tok;

  const auto& table = byte_to_unicode();
  for (int b = 0; b < 256; ++b) {
    std::string ch;
    const std::string raw(1, static_cast<char>(b));
    const int32_t id = bpe.token_to_id(bytes_to_byte_level(raw));
    POPO_CHECK(id >= 0, origin, ": model.vocab lacks the byte-level token for byte 0x", std::hex,
               b, " (U+", static_cast<uint32_t>(table[b]), "); expected a byte-level BPE");
    bpe.byte_ids_[b] = id;
  }

  const auto& merges = m["merges"];
  bpe.merges_.reserve(merges.size() * 2);
  std::string a, b;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& e = merges[rank];
    if (e.is_string()) {
      const std::string& s = e.get_ref<const std::string&>();
      const size_t sp = s.find(' ');
      POPO_CHECK(sp != std::string::npos && s.find(' ', sp + 1) == std::string::npos, origin,
                 ": model.merges[", rank, "] must be \"a b\"; got \"", s, "\"");
      a.assign(s, 0, sp);
      b.assign(s, sp + 1, std::string::npos);
    } else {
      POPO_CHECK(e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string(), origin,
                 ": model.merges[", rank, "] must be \"a b\" or [\"a\", \"b\"]; got ", e.dump());
      a = e[0].get<std::string>();
      b = e[1].get<std::string>();
    }
    const int32_t ia = bpe.token_to_id(a), ib = bpe.token_to_id(b);
    const int32_t inew = bpe.token_to_id(a + b);
    POPO_CHECK(ia >= 0 && ib >= 0 && inew >= 0, origin, ": model.merges[", rank, "] (\"", a,
               "\", \"", b, "\") uses a token missing from model.vocab");
    bpe.merges_.emplace(pair_key(ia, ib), Merge{static_cast<int32_t>(rank), inew});
  }
  return bpe;
}

int32_t Bpe::token_to_id(const std::string& token) const {
  auto it = vocab_.find(token);
  return it == vocab_.end() ? -1 : it->second;
}

const std::string& Bpe::id_to_token(int32_t id) const {
  static const std::string empty;
  if (id < 0 || id >= size()) return empty;
  return id_to_token_[id];
}

int32_t Bpe::merge_rank(const std::string& a, const std::string& b) const {
  const int32_t ia = token_to_id(a), ib = token_to_id(b);
  if (ia < 0 || ib < 0) return -1;
  auto it = merges_.find(pair_key(ia, ib));
  return it == merges_.end() ? -1 : it->second.rank;
}

void Bpe::merge_word(const char* data, size_t size, std::vector<int32_t>& sym) const {
  sym.clear();
  if (ignore_merges_) {
    const int32_t whole = token_to_id(bytes_to_byte_level(std::string(data, size)));
    if (whole >= 0) {
      sym.push_back(whole);
      return;
    }
  }
  for (size_t i = 0; i < size; ++i) sym.push_back(byte_ids_[static_cast<unsigned char>(data[i])]);
  if (sym.size() < 2) return;
  if (sym.size() > kLongWordSymbols) {
    merge_long_word(sym);
    return;
  }
  // Short words: rank[i] / result[i] is the merge of (sym[i], sym[i+1]), INT_MAX when none;
  // each step applies the lowest rank, leftmost first, and refreshes the two neighbours.
  thread_local std::vector<int32_t> rank, result;
  rank.assign(sym.size() - 1, INT_MAX);
  result.assign(sym.size() - 1, -1);
  auto look = [&](size_t i) {
    auto it = merges_.find(pair_key(sym[i], sym[i + 1]));
    rank[i] = it == merges_.end() ? INT_MAX : it->second.rank;
    result[i] = it == merges_.end() ? -1 : it->second.new_id;
  };
  for (size_t i = 0; i + 1 < sym.size(); ++i) look(i);
  while (!rank.empty()) {
    size_t best = 0;
    for (size_t i = 1; i < rank.size(); ++i) {
      if (rank[i] < rank[best]) best = i;  // strict: leftmost wins ties
    }
    if (rank[best] == INT_MAX) break;
    sym[best] = result[best];
    sym.erase(sym.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    rank.erase(rank.begin() + static_cast<std::ptrdiff_t>(best));
    result.erase(result.begin() + static_cast<std::ptrdiff_t>(best));
    if (best > 0) look(best - 1);
    if (best < rank.size()) look(best);
  }
}

void Bpe::merge_long_word(std::vector<int32_t>& sym) const {
  // Long words (e.g. a run of 10^6 spaces): the same order of merges, O(n log n), with a linked
  // list over the original positions and a heap of (rank, position), as tokenizers' Word does.
  const int32_t n = static_cast<int32_t>(sym.size());
  std::vector<int32_t> prev(n), next(n);
  std::vector<char> alive(n, 1);
  for (int32_t i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  using Entry = std::pair<int32_t, int32_t>;  // (rank, left position)
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
  auto push = [&](int32_t i) {
    if (i < 0 || next[i] < 0) return;
    auto it = merges_.find(pair_key(sym[i], sym[next[i]]));
    if (it != merges_.end()) heap.emplace(it->second.rank, i);
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const auto [rank, i] = heap.top();
    heap.pop();
    if (!alive[i] || next[i] < 0) continue;
    auto it = merges_.find(pair_key(sym[i], sym[next[i]]));
    if (it == merges_.end() || it->second.rank != rank) continue;  // stale entry
    const int32_t j = next[i];
    sym[i] = it->second.new_id;
    alive[j] = 0;
    next[i] = next[j];
    if (next[j] >= 0) prev[next[j]] = i;
    push(prev[i]);
    push(i);
  }
  int32_t w = 0;
  for (int32_t i = 0; i < n; i = next[i] < 0 ? n : next[i]) sym[w++] = sym[i];
  sym.resize(static_cast<size_t>(w));
}

void Bpe::encode_word(const char* data, size_t size, std::vector<int32_t>& out,
                      bool use_cache) const {
  if (size == 1) {
    out.push_back(byte_ids_[static_cast<unsigned char>(data[0])]);
    return;
  }
  const bool cacheable = use_cache && size <= kMaxCachedWordBytes;
  std::string word;
  if (cacheable) {
    word.assign(data, size);
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find(word);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  thread_local std::vector<int32_t> sym;
  merge_word(data, size, sym);
  out.insert(out.end(), sym.begin(), sym.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_.size() >= kCacheCapacity) cache_.clear();
    cache_.emplace(word, sym);
  }
}

}  // namespace popo
