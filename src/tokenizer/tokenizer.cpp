// Tokenizer: tokenizer.json loading, added-token splitting, encode/decode. See tokenizer.h.
#include "tokenizer/tokenizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io.h"
#include "tokenizer/bpe.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"

namespace popo {

namespace {

// Added tokens of one matching pass, bucketed by first byte, longest first.
struct AddedMatcher {
  std::vector<const AddedToken*> by_first_byte[256];
  bool empty = true;

  void add(const AddedToken* t) {
    if (t->content.empty()) return;
    by_first_byte[static_cast<unsigned char>(t->content[0])].push_back(t);
    empty = false;
  }
  void finish() {
    for (auto& v : by_first_byte) {
      std::stable_sort(v.begin(), v.end(), [](const AddedToken* a, const AddedToken* b) {
        return a->content.size() > b->content.size();
      });
    }
  }
};

// Returns true for a regex \w character (letters, marks, numbers, connector punctuation).
bool is_word_char(char32_t cp) {
  if (cp == '_') return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO: case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

// Returns the code point ending at byte offset end (end > 0) and its start offset.
char32_t prev_code_point(const std::string& s, size_t end, size_t& start) {
  start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
  size_t i = start;
  return next_code_point(s, i);
}

struct Piece {
  int32_t id;  // -1: text still to tokenize
  size_t begin, end;
};

// Splits text on the added tokens of m, as tokenizers' AddedVocabulary::find_matches does
// (leftmost-longest, then single_word / lstrip / rstrip). Appends pieces to out.
void split_added(const AddedMatcher& m, const std::string& text, std::vector<Piece>& out) {
  size_t start_offset = 0;
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    const auto& bucket = m.by_first_byte[static_cast<unsigned char>(text[i])];
    const AddedToken* hit = nullptr;
    for (const AddedToken* t : bucket) {
      if (text.compare(i, t->content.size(), t->content) == 0) {
        hit = t;
        break;
      }
    }
    if (hit == nullptr) {
      ++i;
      continue;
    }
    size_t start = i, stop = i + hit->content.size();
    if (hit->single_word) {
      size_t tmp = 0;
      const bool start_ok = start == 0 || !is_word_char(prev_code_point(text, start, tmp));
      size_t j = stop;
      const bool stop_ok = stop == n || !is_word_char(next_code_point(text, j));
      if (!start_ok || !stop_ok) {
        i = stop;  // aho-corasick resumes after the discarded match
        continue;
      }
    }
    if (hit->lstrip) {
      while (start > start_offset) {
        size_t s = 0;
        if (!is_unicode_whitespace(prev_code_point(text, start, s))) break;
        start = s;
      }
    }
    if (hit->rstrip) {
      while (stop < n) {
        size_t j = stop;
        if (!is_unicode_whitespace(next_code_point(text, j))) break;
        stop = j;
      }
    }
    if (start > start_offset) out.push_back({-1, start_offset, start});
    out.push_back({hit->id, start, stop});
    start_offset = stop;
    i = stop;
  }
  if (start_offset < n) out.push_back({-1, start_offset, n});
}

}  // namespace

struct Tokenizer::Impl {
  explicit Impl(Bpe model) : bpe(std::move(model)) {}
  std::string origin;
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  Bpe bpe;
  std::vector<AddedToken> added;
  AddedMatcher raw_matcher;         // added tokens with normalized=false
  AddedMatcher normalized_matcher;  // added tokens with normalized=true
  std::unordered_map<std::string, int32_t> added_by_content;
  int32_t vocab_size = 0;
  std::vector<std::string> id_bytes;  // decoded bytes of each id
  std::vector<int32_t> added_index;   // id -> index into added, or -1
};

const Tokenizer::Impl& Tokenizer::impl() const {
  POPO_CHECK(impl_ != nullptr, "Tokenizer used before loading (default-constructed)");
  return *impl_;
}

Tokenizer Tokenizer::from_file(const std::string& path) {
  return from_json(read_file(path), path);
}

Tokenizer Tokenizer::from_json(const std::string& blob, const std::string& origin) {
  // A field of the wrong JSON type anywhere below ends as one popo::Error naming the file.
  try {
    return from_json_checked(blob, origin);
  } catch (const nlohmann::json::exception& e) {
    POPO_FAIL(origin, ": malformed tokenizer.json (", e.what(), ")");
  }
}

Tokenizer Tokenizer::from_json_checked(const std::string& blob, const std::string& origin) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(blob);
  } catch (const nlohmann::json::exception& e) {
    POPO_FAIL(origin, ": not valid JSON: ", e.what());
  }
  POPO_CHECK(j.is_object(), origin, ": expected a tokenizer.json object at the top level");
  POPO_CHECK(j.contains("model"), origin, ": missing 'model'; expected a tokenizer.json file");
  auto impl = std::make_shared<Impl>(Bpe::from_json(j["model"], origin));
  impl->origin = origin;
  impl->normalizer = Normalizer::from_json(j.value("normalizer", nlohmann::json()), origin);
  impl->pre_tokenizer = PreTokenizer::from_json(j.value("pre_tokenizer", nlohmann::json()), origin);
  const nlohmann::json decoder = j.value("decoder", nlohmann::json());
  POPO_CHECK(decoder.is_object() && decoder.value("type", "") == "ByteLevel", origin,
             ": decoder.type '", decoder.is_object() ? decoder.value("type", "") : decoder.dump(),
             "' is not supported; expected ByteLevel");

  int32_t max_id = impl->bpe.size() - 1;
  if (j.contains("added_tokens") && !j["added_tokens"].is_null()) {
    for (const auto& a : j["added_tokens"]) {
      AddedToken t;
      POPO_CHECK(a.contains("id") && a.contains("content"), origin,
                 ": added_tokens entries need 'id' and 'content'; got ", a.dump());
      POPO_CHECK(a["id"].is_number_integer() && a["id"].get<int64_t>() >= 0 &&
                     a["id"].get<int64_t>() < kMaxTokenId,
                 origin, ": added token id must be an integer in [0, 2^24); got ", a["id"].dump());
      t.id = static_cast<int32_t>(a["id"].get<int64_t>());
      t.content = a["content"].get<std::string>();
      t.special = a.value("special", false);
      t.lstrip = a.value("lstrip", false);
      t.rstrip = a.value("rstrip", false);
      t.single_word = a.value("single_word", false);
      t.normalized = a.value("normalized", !t.special);
      POPO_CHECK(t.id >= 0, origin, ": added token '", t.content, "' has negative id ", t.id);
      max_id = std::max(max_id, t.id);
      impl->added.push_back(std::move(t));
    }
  }
  impl->vocab_size = max_id + 1;
  impl->added_index.assign(static_cast<size_t>(impl->vocab_size), -1);
  for (size_t k = 0; k < impl->added.size(); ++k) {
    const AddedToken& t = impl->added[k];
    impl->added_index[t.id] = static_cast<int32_t>(k);
    impl->added_by_content[t.content] = t.id;
    (t.normalized ? impl->normalized_matcher : impl->raw_matcher).add(&impl->added[k]);
  }
  impl->raw_matcher.finish();
  impl->normalized_matcher.finish();

  impl->id_bytes.resize(static_cast<size_t>(impl->vocab_size));
  for (int32_t id = 0; id < impl->vocab_size; ++id) {
    const int32_t k = impl->added_index[id];
    const std::string& tok = k >= 0 ? impl->added[k].content : impl->bpe.id_to_token(id);
    // ByteLevel decoder: a token with a char outside the byte table keeps its raw UTF-8.
    if (!byte_level_to_bytes(tok, impl->id_bytes[id])) impl->id_bytes[id] = tok;
  }
  Tokenizer tok;
  tok.impl_ = std::move(impl);
  return tok;
}

std::vector<int32_t> Tokenizer::encode_impl(const std::string& input, bool use_cache) const {
  const Impl& im = impl();
  const std::string sanitized = is_valid_utf8(input) ? std::string() : utf8_lossy(input);
  const std::string& text = sanitized.empty() ? input : sanitized;

  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  std::vector<Piece> raw_pieces, norm_pieces;
  const PreTokenizer::WordFn on_word = [&](const char* d, size_t n) {
    im.bpe.encode_word(d, n, ids, use_cache);
  };
  if (im.raw_matcher.empty) {
    raw_pieces.push_back({-1, 0, text.size()});
  } else {
    split_added(im.raw_matcher, text, raw_pieces);
  }
  for (const Piece& p : raw_pieces) {
    if (p.id >= 0) {
      ids.push_back(p.id);
      continue;
    }
    const std::string normalized = im.normalizer.normalize(text.substr(p.begin, p.end - p.begin));
    norm_pieces.clear();
    if (im.normalized_matcher.empty) {
      norm_pieces.push_back({-1, 0, normalized.size()});
    } else {
      split_added(im.normalized_matcher, normalized, norm_pieces);
    }
    for (const Piece& q : norm_pieces) {
      if (q.id >= 0) {
        ids.push_back(q.id);
        continue;
      }
      im.pre_tokenizer.for_each_word(normalized.data() + q.begin, q.end - q.begin, on_word);
    }
  }
  return ids;
}

std::vector<int32_t> Tokenizer::encode(const std::string& text) const {
  return encode_impl(text, /*use_cache=*/true);
}

std::vector<int32_t> Tokenizer::encode_uncached(const std::string& text) const {
  return encode_impl(text, /*use_cache=*/false);
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  const Impl& im = impl();
  std::string bytes;
  bytes.reserve(ids.size() * 4);
  for (int32_t id : ids) {
    if (id < 0 || id >= im.vocab_size) continue;
    const int32_t k = im.added_index[id];
    if (k < 0 && im.bpe.id_to_token(id).empty()) continue;  // hole in the vocabulary
    if (skip_special_tokens && k >= 0 && im.added[k].special) continue;
    bytes += im.id_bytes[id];
  }
  return is_valid_utf8(bytes) ? bytes : utf8_lossy(bytes);
}

int32_t Tokenizer::vocab_size() const { return impl().vocab_size; }

int32_t Tokenizer::token_to_id(const std::string& token) const {
  const Impl& im = impl();
  auto it = im.added_by_content.find(token);
  if (it != im.added_by_content.end()) return it->second;
  return im.bpe.token_to_id(token);
}

std::string Tokenizer::id_to_token(int32_t id) const {
  const Impl& im = impl();
  if (id < 0 || id >= im.vocab_size) return "";
  const int32_t k = im.added_index[id];
  return k >= 0 ? im.added[k].content : im.bpe.id_to_token(id);
}

bool Tokenizer::is_special(int32_t id) const {
  const Impl& im = impl();
  if (id < 0 || id >= im.vocab_size) return false;
  const int32_t k = im.added_index[id];
  return k >= 0 && im.added[k].special;
}

const std::vector<AddedToken>& Tokenizer::added_tokens() const { return impl().added; }

const std::string& Tokenizer::origin() const { return impl().origin; }

}  // namespace popo
