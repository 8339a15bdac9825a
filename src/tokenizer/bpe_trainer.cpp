// Byte-level BPE training. See bpe_trainer.h.
#include "tokenizer/bpe_trainer.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "core/error.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"

namespace popo {

namespace {

using Json = nlohmann::ordered_json;

uint64_t key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

Json pre_tokenizer_json() {
  Json split = {{"type", "Split"},
                {"pattern", {{"Regex", kQwen2SplitRegex}}},
                {"behavior", "Isolated"},
                {"invert", false}};
  Json byte_level = {{"type", "ByteLevel"},
                     {"add_prefix_space", false},
                     {"trim_offsets", false},
                     {"use_regex", false}};
  return {{"type", "Sequence"}, {"pretokenizers", Json::array({split, byte_level})}};
}

// Appends to out the pieces of line between occurrences of any special token.
void cut_specials(const std::string& line, const std::vector<std::string>& specials,
                  std::vector<std::string>& out) {
  size_t pos = 0;
  while (pos < line.size()) {
    size_t best = std::string::npos, best_len = 0;
    for (const auto& s : specials) {
      const size_t f = line.find(s, pos);
      if (f != std::string::npos && (f < best || (f == best && s.size() > best_len))) {
        best = f;
        best_len = s.size();
      }
    }
    if (best == std::string::npos) {
      out.push_back(line.substr(pos));
      return;
    }
    if (best > pos) out.push_back(line.substr(pos, best - pos));
    pos = best + best_len;
  }
}

}  // namespace

std::string train_bpe_tokenizer_json(const std::vector<std::string>& corpus, int32_t vocab_size,
                                     const std::vector<std::string>& special_tokens) {
  const int32_t n_special = static_cast<int32_t>(special_tokens.size());
  POPO_CHECK(vocab_size >= 256 + n_special, "train_bpe_tokenizer_json: vocab_size must be >= 256 + ",
             n_special, " special tokens; got ", vocab_size);
  std::set<std::string> seen;
  for (const auto& s : special_tokens) {
    POPO_CHECK(!s.empty(), "train_bpe_tokenizer_json: special tokens must not be empty");
    POPO_CHECK(seen.insert(s).second, "train_bpe_tokenizer_json: special token '", s,
               "' is listed twice");
  }
  const Json pre_json = pre_tokenizer_json();
  const PreTokenizer pre = PreTokenizer::from_json(nlohmann::json::parse(pre_json.dump()),
                                                   "train_bpe_tokenizer_json");

  // 1. Word frequencies (std::map: deterministic order).
  std::map<std::string, int64_t> word_freq;
  std::vector<std::string> pieces, words;
  for (const auto& line : corpus) {
    pieces.clear();
    cut_specials(is_valid_utf8(line) ? line : utf8_lossy(line), special_tokens, pieces);
    for (const auto& p : pieces) {
      words.clear();
      pre.split(nfc(p), words);
      for (const auto& w : words) ++word_freq[w];
    }
  }

  // 2. Byte tokens: ids in code-point order of the byte-level spelling.
  std::vector<std::string> tokens;  // byte-level spelling of each id
  int32_t byte_id[256];
  {
    std::vector<std::pair<char32_t, int>> order;
    for (int b = 0; b < 256; ++b) order.emplace_back(byte_to_unicode()[b], b);
    std::sort(order.begin(), order.end());
    for (const auto& [cp, b] : order) {
      byte_id[b] = static_cast<int32_t>(tokens.size());
      std::string s;
      append_utf8(s, cp);
      tokens.push_back(s);
    }
  }
  std::unordered_map<std::string, int32_t> token_id;
  for (size_t i = 0; i < tokens.size(); ++i) token_id[tokens[i]] = static_cast<int32_t>(i);

  std::vector<std::vector<int32_t>> syms;
  std::vector<int64_t> freq;
  for (const auto& [w, f] : word_freq) {
    std::vector<int32_t> s;
    for (unsigned char c : w) s.push_back(byte_id[c]);
    syms.push_back(std::move(s));
    freq.push_back(f);
  }

  // 3. Pair counts and, for each pair, the words that (may) contain it.
  std::unordered_map<uint64_t, int64_t> pair_count;
  std::unordered_map<uint64_t, std::vector<int32_t>> where;
  for (size_t w = 0; w < syms.size(); ++w) {
    for (size_t i = 0; i + 1 < syms[w].size(); ++i) {
      const uint64_t k = key(syms[w][i], syms[w][i + 1]);
      pair_count[k] += freq[w];
      auto& v = where[k];
      if (v.empty() || v.back() != static_cast<int32_t>(w)) v.push_back(static_cast<int32_t>(w));
    }
  }

  // 4. Merge loop.
  const int32_t target = vocab_size - n_special;
  Json merges = Json::array();
  while (static_cast<int32_t>(tokens.size()) < target) {
    uint64_t best = 0;
    int64_t best_count = 0;
    for (const auto& [k, c] : pair_count) {
      if (c <= 0) continue;
      if (c > best_count) {
        best = k;
        best_count = c;
      } else if (c == best_count) {
        const int32_t a = static_cast<int32_t>(k >> 32), b = static_cast<int32_t>(k & 0xFFFFFFFF);
        const int32_t ba = static_cast<int32_t>(best >> 32);
        const int32_t bb = static_cast<int32_t>(best & 0xFFFFFFFF);
        if (std::tie(tokens[a], tokens[b]) < std::tie(tokens[ba], tokens[bb])) best = k;
      }
    }
    if (best_count == 0) break;  // corpus exhausted
    const int32_t a = static_cast<int32_t>(best >> 32), b = static_cast<int32_t>(best & 0xFFFFFFFF);
    const std::string merged = tokens[a] + tokens[b];
    int32_t new_id;
    auto it = token_id.find(merged);
    if (it != token_id.end()) {
      new_id = it->second;
    } else {
      new_id = static_cast<int32_t>(tokens.size());
      tokens.push_back(merged);
      token_id.emplace(merged, new_id);
    }
    merges.push_back(Json::array({tokens[a], tokens[b]}));

    std::vector<int32_t> affected = std::move(where[best]);
    where.erase(best);
    for (int32_t w : affected) {
      auto& s = syms[w];
      bool has = false;
      for (size_t i = 0; i + 1 < s.size() && !has; ++i) has = s[i] == a && s[i + 1] == b;
      if (!has) continue;
      for (size_t i = 0; i + 1 < s.size(); ++i) pair_count[key(s[i], s[i + 1])] -= freq[w];
      std::vector<int32_t> out;
      out.reserve(s.size());
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
          out.push_back(new_id);
          ++i;
        } else {
          out.push_back(s[i]);
        }
      }
      s.swap(out);
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        const uint64_t k = key(s[i], s[i + 1]);
        pair_count[k] += freq[w];
        auto& v = where[k];
        if (v.empty() || v.back() != w) v.push_back(w);
      }
    }
    pair_count.erase(best);
  }

  // 5. tokenizer.json.
  Json vocab = Json::object();
  for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = static_cast<int32_t>(i);
  Json added = Json::array();
  for (int32_t k = 0; k < n_special; ++k) {
    added.push_back({{"id", static_cast<int32_t>(tokens.size()) + k},
                     {"content", special_tokens[k]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  const Json byte_level = {{"type", "ByteLevel"},
                           {"add_prefix_space", false},
                           {"trim_offsets", false},
                           {"use_regex", false}};
  Json j = Json::object();
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  j["added_tokens"] = added;
  j["normalizer"] = {{"type", "NFC"}};
  j["pre_tokenizer"] = pre_json;
  j["post_processor"] = byte_level;
  j["decoder"] = byte_level;
  j["model"] = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", ""},
                {"end_of_word_suffix", ""},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"ignore_merges", false},
                {"vocab", vocab},
                {"merges", merges}};
  return j.dump(2);
}

}  // namespace popo
