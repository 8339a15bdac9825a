// Regex split (PCRE2) and byte-level table for the tokenizer. See pre_tokenizer.h.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pre_tokenizer.h"

#include <pcre2.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/normalizer.h"

namespace popo {

const char* const kQwen2SplitRegex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kGpt2SplitRegex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

const std::array<char32_t, 256>& byte_to_unicode() {
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      t[b] = printable ? static_cast<char32_t>(b) : next++;
    }
    return t;
  }();
  return table;
}

int unicode_to_byte(char32_t cp) {
  static const std::array<int, 512> inverse = [] {
    std::array<int, 512> inv{};
    inv.fill(-1);
    const auto& t = byte_to_unicode();
    for (int b = 0; b < 256; ++b) inv[t[b]] = b;
    return inv;
  }();
  return cp < 512 ? inverse[cp] : -1;
}

std::string bytes_to_byte_level(const std::string& bytes) {
  const auto& t = byte_to_unicode();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) append_utf8(out, t[b]);
  return out;
}

bool byte_level_to_bytes(const std::string& byte_level, std::string& bytes) {
  bytes.clear();
  size_t i = 0;
  while (i < byte_level.size()) {
    const int b = unicode_to_byte(next_code_point(byte_level, i));
    if (b < 0) return false;
    bytes += static_cast<char>(b);
  }
  return true;
}

// ---- Regex ----------------------------------------------------------------------------------

Regex::Regex(const std::string& pattern, bool literal, const std::string& origin) {
  int err = 0;
  PCRE2_SIZE err_off = 0;
  uint32_t options = PCRE2_UTF | PCRE2_UCP;
  if (literal) options |= PCRE2_LITERAL;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   options, &err, &err_off, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof(msg));
    POPO_FAIL(origin, ": cannot compile split regex at offset ", err_off, ": ",
              reinterpret_cast<const char*>(msg), " (pattern ", pattern, ")");
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter on failure
  code_ = std::shared_ptr<void>(code, [](void* p) { pcre2_code_free(static_cast<pcre2_code*>(p)); });
}

std::vector<std::pair<size_t, size_t>> Regex::find_all(const std::string& text) const {
  std::vector<std::pair<size_t, size_t>> out;
  auto* code = static_cast<pcre2_code*>(code_.get());
  thread_local std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> md(
      pcre2_match_data_create(/*ovecsize=*/4, nullptr), pcre2_match_data_free);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t start = 0;
  while (start <= text.size()) {
    const int rc = pcre2_match(code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, md.get(),
                               nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    POPO_CHECK(rc >= 0, "split regex match failed with PCRE2 code ", rc);
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    if (ov[1] == ov[0]) {  // empty match: step over one code point
      if (ov[0] >= text.size()) break;
      size_t next = ov[0];
      next_code_point(text, next);
      start = next;
      continue;
    }
    out.emplace_back(ov[0], ov[1]);
    start = ov[1];
  }
  return out;
}

// ---- PreTokenizer ---------------------------------------------------------------------------

void PreTokenizer::add_step(const nlohmann::json& j, const std::string& origin,
                            std::vector<Step>& steps) {
  if (j.is_null()) return;
  POPO_CHECK(j.is_object() && j.contains("type"), origin,
             ": pre_tokenizer must be an object with a 'type'; got ", j.dump());
  const std::string type = j.at("type").get<std::string>();
  if (type == "Sequence") {
    for (const auto& sub : j.at("pretokenizers")) add_step(sub, origin, steps);
  } else if (type == "Split") {
    Step s;
    const std::string behavior = j.value("behavior", "Isolated");
    if (behavior == "Isolated") {
      s.kind = Step::kSplitIsolated;
    } else if (behavior == "Removed") {
      s.kind = Step::kSplitRemoved;
    } else {
      POPO_FAIL(origin, ": pre_tokenizer Split behavior '", behavior,
                "' is not supported; expected Isolated or Removed");
    }
    POPO_CHECK(!j.value("invert", false), origin,
               ": pre_tokenizer Split with invert=true is not supported");
    const auto& pat = j.at("pattern");
    if (pat.contains("Regex")) {
      s.regex = Regex(pat.at("Regex").get<std::string>(), /*literal=*/false, origin);
    } else if (pat.contains("String")) {
      s.regex = Regex(pat.at("String").get<std::string>(), /*literal=*/true, origin);
    } else {
      POPO_FAIL(origin, ": pre_tokenizer Split pattern must have 'Regex' or 'String'; got ",
                pat.dump());
    }
    steps.push_back(std::move(s));
  } else if (type == "ByteLevel") {
    Step s;
    s.kind = Step::kByteLevel;
    s.add_prefix_space = j.value("add_prefix_space", false);
    s.use_regex = j.value("use_regex", true);
    if (s.use_regex) s.regex = Regex(kGpt2SplitRegex, /*literal=*/false, origin);
    steps.push_back(std::move(s));
  } else {
    POPO_FAIL(origin, ": pre_tokenizer.type '", type,
              "' is not supported; expected Split, ByteLevel or Sequence");
  }
}

PreTokenizer PreTokenizer::from_json(const nlohmann::json& j, const std::string& origin) {
  PreTokenizer p;
  add_step(j, origin, p.steps_);
  return p;
}

namespace {
// Appends the pieces of word cut by regex matches (Isolated keeps the gaps and the matches,
// Removed keeps only the gaps).
void split_by(const Regex& re, bool keep_matches, const std::string& word,
              std::vector<std::string>& out) {
  size_t prev = 0;
  for (const auto& [s, e] : re.find_all(word)) {
    if (s > prev) out.emplace_back(word, prev, s - prev);
    if (keep_matches) out.emplace_back(word, s, e - s);
    prev = e;
  }
  if (prev < word.size()) out.emplace_back(word, prev, word.size() - prev);
}
}  // namespace

void PreTokenizer::split(const std::string& text, std::vector<std::string>& out) const {
  if (text.empty()) return;
  std::vector<std::string> cur{text}, next;
  for (const Step& step : steps_) {
    next.clear();
    for (auto& w : cur) {
      switch (step.kind) {
        case Step::kSplitIsolated: split_by(step.regex, true, w, next); break;
        case Step::kSplitRemoved: split_by(step.regex, false, w, next); break;
        case Step::kByteLevel: {
          if (step.add_prefix_space && w.rfind(' ', 0) != 0) w.insert(w.begin(), ' ');
          if (step.use_regex) {
            split_by(step.regex, true, w, next);
          } else {
            next.push_back(std::move(w));
          }
          break;
        }
      }
    }
    cur.swap(next);
  }
  for (auto& w : cur) {
    if (!w.empty()) out.push_back(std::move(w));
  }
}

}  // namespace popo
