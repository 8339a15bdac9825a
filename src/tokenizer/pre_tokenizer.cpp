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
  for_each_match(text.data(), text.size(), [&](size_t b, size_t e) { out.emplace_back(b, e); });
  return out;
}

void Regex::for_each_match(const char* data, size_t size,
                           const std::function<void(size_t, size_t)>& fn) const {
  auto* code = static_cast<pcre2_code*>(code_.get());
  thread_local std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> md(
      pcre2_match_data_create(/*ovecsize=*/4, nullptr), pcre2_match_data_free);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(data);
  size_t start = 0;
  while (start < size) {
    const int rc = pcre2_match(code, subject, size, start, PCRE2_NO_UTF_CHECK, md.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    POPO_CHECK(rc >= 0, "split regex match failed with PCRE2 code ", rc);
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    const size_t b = ov[0], e = ov[1];  // copied: fn may run other matches on this thread
    if (e == b) {  // empty match: step over one code point
      if (b >= size) break;
      start = b + 1;
      while (start < size && (static_cast<unsigned char>(data[start]) & 0xC0) == 0x80) ++start;
      continue;
    }
    fn(b, e);
    start = e;
  }
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

void PreTokenizer::run(size_t step, const char* data, size_t size, const WordFn& fn) const {
  if (size == 0) return;
  if (step == steps_.size()) {
    fn(data, size);
    return;
  }
  const Step& st = steps_[step];
  auto split_by = [&](const Regex& re, bool keep_matches, const char* d, size_t n) {
    size_t prev = 0;
    re.for_each_match(d, n, [&](size_t b, size_t e) {
      if (b > prev) run(step + 1, d + prev, b - prev, fn);
      if (keep_matches) run(step + 1, d + b, e - b, fn);
      prev = e;
    });
    if (prev < n) run(step + 1, d + prev, n - prev, fn);
  };
  switch (st.kind) {
    case Step::kSplitIsolated: split_by(st.regex, true, data, size); break;
    case Step::kSplitRemoved: split_by(st.regex, false, data, size); break;
    case Step::kByteLevel: {
      std::string prefixed;
      if (st.add_prefix_space && data[0] != ' ') {
        prefixed.reserve(size + 1);
        prefixed += ' ';
        prefixed.append(data, size);
        data = prefixed.data();
        size = prefixed.size();
      }
      if (st.use_regex) {
        split_by(st.regex, true, data, size);
      } else {
        run(step + 1, data, size, fn);
      }
      break;
    }
  }
}

void PreTokenizer::for_each_word(const char* data, size_t size, const WordFn& fn) const {
  run(0, data, size, fn);
}

void PreTokenizer::split(const std::string& text, std::vector<std::string>& out) const {
  for_each_word(text.data(), text.size(),
                [&](const char* d, size_t n) { out.emplace_back(d, n); });
}

}  // namespace popo
