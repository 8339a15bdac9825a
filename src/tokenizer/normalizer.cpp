// NFC normalisation (utf8proc) and UTF-8 helpers for the tokenizer. See normalizer.h.
#include "tokenizer/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>
#include <utility>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace popo {

namespace {
void add_normalizer(const nlohmann::json& j, const std::string& origin, bool& nfc_flag) {
  if (j.is_null()) return;
  POPO_CHECK(j.is_object() && j.contains("type"), origin,
             ": normalizer must be an object with a 'type'; got ", j.dump());
  const std::string type = j.at("type").get<std::string>();
  if (type == "NFC") {
    nfc_flag = true;
  } else if (type == "Sequence") {
    for (const auto& sub : j.at("normalizers")) add_normalizer(sub, origin, nfc_flag);
  } else {
    POPO_FAIL(origin, ": normalizer.type '", type,
              "' is not supported; expected NFC, Sequence of NFC, or null");
  }
}

bool all_ascii(const std::string& s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}
}  // namespace

Normalizer Normalizer::from_json(const nlohmann::json& j, const std::string& origin) {
  Normalizer n;
  add_normalizer(j, origin, n.nfc_);
  return n;
}

std::string Normalizer::normalize(const std::string& text) const {
  return nfc_ ? nfc(text) : text;
}

namespace {
// Combining marks that Hugging Face tokenizers' NFC (the unicode-normalization-alignments tables,
// an older Unicode than utf8proc's) does not know: it treats them as unassigned, i.e. as starters
// that nothing reorders across, where utf8proc gives them their combining class and reorders.
// Found by tests/oracle/test_tokenizer.py; the list is every mark of Unicode 14 with a nonzero
// combining class that tokenizers 0.23's NFC leaves in place after a mark of lower class.
constexpr std::pair<char32_t, char32_t> kUnknownToHfNfc[] = {
{0x07FD, 0x07FD},
    {0x0898, 0x089F},
    {0x08CA, 0x08D3},
    {0x09FE, 0x09FE},
    {0x0C3C, 0x0C3C},
    {0x0D3B, 0x0D3C},
    {0x0EBA, 0x0EBA},
    {0x1715, 0x1715},
    {0x1ABF, 0x1ACE},
    {0x1DF6, 0x1DFA},
    {0xA82C, 0xA82C},
    {0x10D24, 0x10D27},
    {0x10EAB, 0x10EAC},
    {0x10F46, 0x10F50},
    {0x10F82, 0x10F85},
    {0x11070, 0x11070},
    {0x1133B, 0x1133B},
    {0x1145E, 0x1145E},
    {0x11839, 0x1183A},
    {0x1193D, 0x1193E},
    {0x11943, 0x11943},
    {0x119E0, 0x119E0},
    {0x11A34, 0x11A34},
    {0x11A47, 0x11A47},
    {0x11A99, 0x11A99},
    {0x11D42, 0x11D42},
    {0x11D44, 0x11D45},
    {0x11D97, 0x11D97},
    {0x16FF0, 0x16FF1},
    {0x1E130, 0x1E136},
    {0x1E2AE, 0x1E2AE},
    {0x1E2EC, 0x1E2EF}
};

bool unknown_to_hf_nfc(char32_t c) {
  if (c < kUnknownToHfNfc[0].first) return false;
  for (const auto& [lo, hi] : kUnknownToHfNfc) {
    if (c < lo) return false;
    if (c <= hi) return true;
  }
  return false;
}

std::string utf8proc_nfc(const char* data, size_t size) {
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(data),
                   static_cast<utf8proc_ssize_t>(size), &out,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  POPO_CHECK(n >= 0, "NFC normalisation failed: ", utf8proc_errmsg(n));
  std::string result(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
  std::free(out);
  return result;
}

// NFC of a span as HF computes it: the marks HF does not know split the span and are kept as is.
std::string nfc_span(const char* data, size_t size) {
  const auto* u = reinterpret_cast<const utf8proc_uint8_t*>(data);
  std::string out;
  size_t start = 0, i = 0;
  while (i < size) {
    utf8proc_int32_t c = 0;
    const utf8proc_ssize_t len = utf8proc_iterate(u + i, static_cast<utf8proc_ssize_t>(size - i), &c);
    if (len <= 0) break;  // invalid UTF-8: utf8proc_nfc reports it below
    if (unknown_to_hf_nfc(static_cast<char32_t>(c))) {
      if (i > start) out += utf8proc_nfc(data + start, i - start);
      out.append(data + i, static_cast<size_t>(len));
      start = i + static_cast<size_t>(len);
    }
    i += static_cast<size_t>(len);
  }
  if (start == 0) return utf8proc_nfc(data, size);
  if (start < size) out += utf8proc_nfc(data + start, size - start);
  return out;
}
}  // namespace

std::string nfc(const std::string& s) {
  if (all_ascii(s)) return s;  // ASCII is always in NFC
  // The position before an ASCII character is a normalisation boundary (ASCII has combining
  // class 0, no decomposition, and never composes with what precedes it), so only each run of
  // non-ASCII characters, with the one ASCII character before it (a possible base for combining
  // marks), goes through utf8proc; the rest is copied.
  std::string out;
  out.reserve(s.size());
  const size_t n = s.size();
  size_t pos = 0, i = 0;
  while (i < n) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < n && static_cast<unsigned char>(s[j]) >= 0x80) ++j;
    const size_t span = i > pos ? i - 1 : pos;
    out.append(s, pos, span - pos);
    out += nfc_span(s.data() + span, j - span);
    pos = i = j;
  }
  out.append(s, pos, n - pos);
  return out;
}

namespace {
// Returns the length of the valid UTF-8 sequence at s[i], or 0 and sets bad_len to the length of
// the maximal invalid subpart (>= 1) to replace with one U+FFFD.
size_t utf8_seq(const unsigned char* s, size_t n, size_t i, size_t& bad_len) {
  const unsigned char c = s[i];
  if (c < 0x80) return 1;
  size_t need = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    bad_len = 1;
    return 0;
  }
  size_t k = 1;
  for (; k <= need; ++k) {
    if (i + k >= n) break;
    const unsigned char b = s[i + k];
    const unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) break;
  }
  if (k == need + 1) return need + 1;
  bad_len = k;
  return 0;
}
}  // namespace

std::string utf8_lossy(const std::string& bytes) {
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  std::string out;
  out.reserve(n);
  size_t i = 0;
  while (i < n) {
    size_t bad = 0;
    const size_t len = utf8_seq(s, n, i, bad);
    if (len > 0) {
      out.append(bytes, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      i += bad;
    }
  }
  return out;
}

bool is_valid_utf8(const std::string& bytes) {
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t i = 0, bad = 0;
  while (i < bytes.size()) {
    const size_t len = utf8_seq(s, bytes.size(), i, bad);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

bool is_unicode_whitespace(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

char32_t next_code_point(const std::string& s, size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    ++i;
    return c;
  }
  int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
  char32_t cp = c & (0x3F >> extra);
  ++i;
  for (int k = 0; k < extra && i < s.size(); ++k, ++i) {
    cp = (cp << 6) | (static_cast<unsigned char>(s[i]) & 0x3F);
  }
  return cp;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace popo
