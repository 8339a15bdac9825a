// Canonical answer strings; see math_normalize.h. Each step is a small linear pass; the order
// matters (wrappers first, then units, then spaces, then number forms).
#include "reward/math_normalize.h"
#include "core/strings.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace popo {

namespace {

bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

std::string replace_all(const std::string& s, const std::string& from, const std::string& to) {
  if (from.empty()) return s;
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (true) {
    size_t p = s.find(from, i);
    if (p == std::string::npos) break;
    out.append(s, i, p - i);
    out += to;
    i = p + from.size();
  }
  out.append(s, i, std::string::npos);
  return out;
}

// Replaces the LaTeX command `cmd` (with its backslash) by `to` where the next character is not
// a letter, so "\le" does not match inside "\left".
std::string replace_command(const std::string& s, const std::string& cmd, const std::string& to) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (true) {
    size_t p = s.find(cmd, i);
    if (p == std::string::npos) break;
    size_t after = p + cmd.size();
    if (after < s.size() && is_alpha(s[after])) {
      out.append(s, i, after - i);
      i = after;
      continue;
    }
    out.append(s, i, p - i);
    out += to;
    i = after;
  }
  out.append(s, i, std::string::npos);
  return out;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Words dropped after a number: units and counted nouns that models add ("5 cm", "12 apples").
const std::vector<std::string>& unit_words() {
  static const std::vector<std::string> w = {
      "cm", "m", "km", "mm", "nm", "in", "inch", "inches", "ft", "feet", "foot", "yd", "yard",
      "yards", "mi", "mile", "miles", "meter", "meters", "metre", "metres", "centimeter",
      "centimeters", "kilometer", "kilometers", "unit", "units", "square", "sq", "cubic", "cu",
      "degree", "degrees", "deg", "radian", "radians", "rad", "dollar", "dollars", "cent",
      "cents", "percent", "hour", "hours", "hr", "hrs", "h", "minute", "minutes", "min", "mins",
      "second", "seconds", "sec", "s", "day", "days", "week", "weeks", "month", "months",
      "year", "years", "mph", "kg", "g", "gram", "grams", "lb", "lbs", "pound", "pounds", "oz",
      "ounce", "ounces", "l", "liter", "liters", "ml", "gallon", "gallons", "cups", "cup",
      "points", "point", "people", "students", "ways", "times", "j", "kj", "ev", "k", "w", "kw",
      "pa", "n", "hz", "mpc", "pc", "au", "ly", "v", "c", "a"};
  return w;
}

bool is_unit_word(const std::string& w) {
  std::string l = lower(w);
  for (const auto& u : unit_words())
    if (u == l) return true;
  return false;
}

// Returns true if s is a plain number: optional sign, digits with optional ',' groups or one '.',
// or a \frac{int}{int}.
bool looks_numeric(const std::string& s) {
  std::string t = trim(s);
  if (t.empty()) return false;
  size_t i = 0;
  if (t[0] == '-' || t[0] == '+') i = 1;
  if (t.compare(i, 6, "\\frac{") == 0) return true;
  bool digit = false;
  for (; i < t.size(); ++i) {
    if (is_digit(t[i])) {
      digit = true;
    } else if (t[i] != '.' && t[i] != ',' && t[i] != ' ' && t[i] != '/') {
      return false;
    }
  }
  return digit;
}

// Drops trailing unit words (optionally with ^2 / ^{3}) after a number: "5 cm^2" -> "5".
std::string strip_units(const std::string& s) {
  std::string t = trim(s);
  for (int round = 0; round < 4; ++round) {
    size_t e = t.size();
    // optional exponent on the unit
    if (e >= 2 && is_digit(t[e - 1]) && t[e - 2] == '^') {
      e -= 2;
    } else if (e >= 4 && t[e - 1] == '}' && is_digit(t[e - 2]) && t[e - 3] == '{' && t[e - 4] == '^') {
      e -= 4;
    }
    size_t b = e;
    while (b > 0 && is_alpha(t[b - 1])) --b;
    if (b == e) break;
    std::string word = t.substr(b, e - b);
    std::string prefix = trim(t.substr(0, b));
    bool spaced = b > 0 && is_space(t[b - 1]);
    if (prefix.empty() || (b > 0 && t[b - 1] == '\\')) break;
    bool ok = (is_unit_word(word) && (spaced || word.size() >= 2)) || (spaced && word.size() >= 2);
    if (!ok) break;
    // Only strip when what is left is a number (or ends in one and we keep stripping).
    std::string p2 = prefix;
    bool numeric_prefix = looks_numeric(p2);
    bool word_prefix = !p2.empty() && is_alpha(p2.back());
    if (!numeric_prefix && !word_prefix) break;
    if (word_prefix) {
      // "5 square feet": the prefix must itself reduce to a number.
      std::string inner = strip_units(p2);
      if (!looks_numeric(inner)) break;
      return inner;
    }
    t = p2;
  }
  return t;
}

// Returns m[i] = index of the '}' closing the '{' at i (npos otherwise). Escaped braces skipped.
std::vector<size_t> brace_table(const std::string& s) {
  std::vector<size_t> m(s.size(), std::string::npos);
  std::vector<size_t> stack;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == '{' || s[i + 1] == '}')) {
      ++i;
    } else if (s[i] == '{') {
      stack.push_back(i);
    } else if (s[i] == '}' && !stack.empty()) {
      m[stack.back()] = i;
      stack.pop_back();
    }
  }
  return m;
}

// Rewrites \frac12 -> \frac{1}{2}, \frac1{2} -> \frac{1}{2}, \sqrt2 -> \sqrt{2} (after spaces
// were removed), at any nesting depth. One brace table, then one merge of the insertions.
std::string fix_bare_args(const std::string& s) {
  if (s.find("\\frac") == std::string::npos && s.find("\\sqrt") == std::string::npos) return s;
  std::vector<size_t> match = brace_table(s);
  std::vector<std::pair<size_t, char>> inserts;  // (position, char) in increasing position
  for (size_t i = 0; i + 5 <= s.size(); ++i) {
    bool frac = s.compare(i, 5, "\\frac") == 0;
    bool sqrt = s.compare(i, 5, "\\sqrt") == 0;
    if ((!frac && !sqrt) || (i + 5 < s.size() && is_alpha(s[i + 5]))) continue;
    size_t j = i + 5;
    if (sqrt && j < s.size() && s[j] == '[') {
      size_t close = s.find(']', j);
      if (close == std::string::npos) continue;
      j = close + 1;
    }
    int nargs = frac ? 2 : 1;
    for (int a = 0; a < nargs && j < s.size(); ++a) {
      if (s[j] == '{') {
        if (match[j] == std::string::npos) break;
        j = match[j] + 1;
      } else if (s[j] == '\\') {  // \frac\pi2
        size_t k = j + 1;
        while (k < s.size() && is_alpha(s[k])) ++k;
        if (k == j + 1) break;
        inserts.push_back({j, '{'});
        inserts.push_back({k, '}'});
        j = k;
      } else if (frac && a == 1 && is_digit(s[j]) && j == i + 6 && is_digit(s[i + 5])) {
        // Math-Verify: the second bare argument of \frac takes the rest of the digit run
        // ("\frac123" = 1/23).
        size_t k = j;
        while (k < s.size() && is_digit(s[k])) ++k;
        inserts.push_back({j, '{'});
        inserts.push_back({k, '}'});
        j = k;
      } else if (is_digit(s[j]) || is_alpha(s[j])) {
        inserts.push_back({j, '{'});
        inserts.push_back({j + 1, '}'});
        j = j + 1;
      } else {
        break;
      }
    }
  }
  if (inserts.empty()) return s;
  std::stable_sort(inserts.begin(), inserts.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out;
  out.reserve(s.size() + inserts.size());
  size_t k = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    // closing braces before opening ones at the same position: "\frac12" -> {1}{2}
    for (char want : {'}', '{'})
      for (size_t t = k; t < inserts.size() && inserts[t].first == i; ++t)
        if (inserts[t].second == want) out += want;
    while (k < inserts.size() && inserts[k].first == i) ++k;
    if (i < s.size()) out += s[i];
  }
  return out;
}

// Removes thousands separators when the whole string is one grouped number: 7,425,000 / 1 000.
std::string strip_thousands(const std::string& s, char sep) {
  size_t i = 0;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) i = 1;
  size_t first = i;
  while (i < s.size() && is_digit(s[i])) ++i;
  size_t lead = i - first;
  if (lead < 1 || lead > 3 || i >= s.size() || s[i] != sep) return s;
  while (i < s.size() && s[i] == sep) {
    for (int k = 1; k <= 3; ++k)
      if (i + k >= s.size() || !is_digit(s[i + k])) return s;
    i += 4;
  }
  if (i < s.size()) {
    if (s[i] != '.') return s;
    size_t j = i + 1;
    while (j < s.size() && is_digit(s[j])) ++j;
    if (j != s.size() || j == i + 1) return s;
  }
  std::string out;
  for (char c : s)
    if (c != sep) out += c;
  return out;
}

// Canonical digit runs: leading zeros dropped ("025" -> "25"), trailing decimal zeros dropped
// ("2.50" -> "2.5", "5.0" -> "5"), ".5" -> "0.5".
std::string canonical_numbers(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 4);
  size_t i = 0;
  while (i < s.size()) {
    bool starts_number = is_digit(s[i]) || (s[i] == '.' && i + 1 < s.size() && is_digit(s[i + 1]));
    bool prev_ok = i == 0 || !(is_alpha(s[i - 1]) || is_digit(s[i - 1]) || s[i - 1] == '.' ||
                               s[i - 1] == '\\');
    if (!starts_number || !prev_ok) {
      out += s[i++];
      continue;
    }
    size_t j = i;
    while (j < s.size() && is_digit(s[j])) ++j;
    std::string int_part = s.substr(i, j - i);
    std::string frac_part;
    bool has_dot = false;
    if (j < s.size() && s[j] == '.' && j + 1 < s.size() && is_digit(s[j + 1])) {
      has_dot = true;
      size_t k = j + 1;
      while (k < s.size() && is_digit(s[k])) ++k;
      frac_part = s.substr(j + 1, k - j - 1);
      j = k;
    } else if (j < s.size() && s[j] == '.' && j == s.size() - 1 && !int_part.empty()) {
      j += 1;  // "5." at the very end
    }
    size_t z = 0;
    while (z + 1 < int_part.size() && int_part[z] == '0') ++z;
    int_part = int_part.substr(z);
    if (int_part.empty()) int_part = "0";
    if (has_dot) {
      while (!frac_part.empty() && frac_part.back() == '0') frac_part.pop_back();
    }
    out += int_part;
    if (!frac_part.empty()) out += "." + frac_part;
    i = j;
  }
  return out;
}

// Returns "(n+\\frac{a}{b})" for a whole answer "n\\frac{a}{b}" of plain integers (a mixed
// number, as Math-Verify reads it: 2\\frac12 = 5/2), s itself otherwise.
std::string mixed_number(const std::string& s) {
  size_t i = s.size() > 0 && s[0] == '-' ? 1 : 0;
  size_t d = i;
  while (d < s.size() && is_digit(s[d])) ++d;
  if (d == i || s.compare(d, 6, "\\frac{") != 0) return s;
  size_t a = d + 6, a_end = a;
  while (a_end < s.size() && is_digit(s[a_end])) ++a_end;
  if (a_end == a || s.compare(a_end, 2, "}{") != 0) return s;
  size_t b = a_end + 2, b_end = b;
  while (b_end < s.size() && is_digit(s[b_end])) ++b_end;
  if (b_end == b || b_end + 1 != s.size() || s[b_end] != '}') return s;
  std::string whole = s.substr(i, d - i), frac = s.substr(d);
  return i ? "-(" + whole + "+" + frac + ")" : "(" + whole + "+" + frac + ")";
}

}  // namespace

std::string unwrap_text_commands(const std::string& s) {
  static const char* kWrappers[] = {"\\text", "\\textnormal", "\\textbf", "\\textit", "\\textrm", "\\mbox",
                                    "\\mathrm", "\\mathbf", "\\mathit", "\\mathsf", "\\textsf",
                                    "\\rm",     "\\boxed",  "\\hbox",   "\\operatorname"};
  std::string cur = s;
  for (int round = 0; round < 8; ++round) {
    bool changed = false;
    std::string out;
    out.reserve(cur.size());
    std::vector<size_t> match = brace_table(cur);
    size_t i = 0;
    while (i < cur.size()) {
      if (cur[i] == '\\') {
        size_t j = i + 1;
        while (j < cur.size() && is_alpha(cur[j])) ++j;
        std::string cmd = cur.substr(i, j - i);
        bool wrapper = false;
        for (const char* w : kWrappers) wrapper = wrapper || cmd == w;
        size_t k = j;
        while (k < cur.size() && cur[k] == ' ') ++k;
        if (wrapper && k < cur.size() && cur[k] == '{') {
          size_t close = match[k];
          if (close != std::string::npos) {
            out += cur.substr(k + 1, close - k - 1);
            i = close + 1;
            changed = true;
            continue;
          }
        }
        if (wrapper && cmd == "\\rm") {  // {\rm cm}
          i = j;
          changed = true;
          continue;
        }
        out.append(cur, i, j - i);
        i = j;
        continue;
      }
      out += cur[i++];
    }
    cur = out;
    if (!changed) break;
  }
  return cur;
}

bool mentions_percent(const std::string& s) {
  if (s.find('%') != std::string::npos) return true;
  std::string l = lower(s);
  return l.find("percent") != std::string::npos || l.find("pct") != std::string::npos;
}

namespace {

// Math-Verify's unit rule: an answer ending in \text{..} / \mbox{..} (optionally ^2) loses
// everything from its first \text{ / \mbox{ on, unless nothing would remain. popo also keeps it
// when the removed part has a digit, so "3\text{ or }5\text{ cm}" stays a list.
std::string cut_trailing_text(const std::string& s) {
  std::string t = trim(s);
  size_t e = t.size();
  if (e >= 2 && t[e - 2] == '^' && is_digit(t[e - 1])) e -= 2;
  if (e == 0 || t[e - 1] != '}') return s;
  std::vector<size_t> match = brace_table(t);
  size_t first = std::string::npos, last_open = std::string::npos;
  for (const char* cmd : {"\\text{", "\\mbox{"}) {
    size_t p = t.find(cmd);
    if (p != std::string::npos) first = std::min(first, p);
    size_t q = t.rfind(cmd);
    if (q != std::string::npos && (last_open == std::string::npos || q > last_open)) last_open = q;
  }
  if (first == std::string::npos || first == 0) return s;
  size_t brace = t.find('{', last_open);
  if (match[brace] != e - 1) return s;  // the last \text{ does not close at the end
  std::string kept = trim(t.substr(0, first));
  std::string removed = t.substr(first);
  if (kept.empty() || std::any_of(removed.begin(), removed.end(), is_digit)) return s;
  // "x \text{ if } y" style prose: the kept part still ends in an operator or relation.
  return kept;
}

// Replaces the words `word` (not part of a longer word, not after a backslash) by `to`.
std::string replace_word(const std::string& s, const std::string& word, const std::string& to) {
  std::string out;
  size_t i = 0;
  while (true) {
    size_t p = s.find(word, i);
    if (p == std::string::npos) break;
    size_t e = p + word.size();
    bool left = p == 0 || !(is_alpha(s[p - 1]) || s[p - 1] == '\\');
    bool right = e >= s.size() || !is_alpha(s[e]);
    out.append(s, i, p - i);
    out += left && right ? to : word;
    i = e;
  }
  out.append(s, i, std::string::npos);
  return out;
}

}  // namespace

std::string normalize_answer(const std::string& input) {
  std::string s = input;
  for (char& c : s)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  s = trim(s);
  // Unicode math symbols to their LaTeX commands.
  static const std::pair<const char*, const char*> kUnicode[] = {
      {"\u03c0", "\\pi "}, {"\u221a", "\\sqrt"}, {"\u00d7", "\\times "}, {"\u00b7", "\\cdot "},
      {"\u22c5", "\\cdot "}, {"\u2212", "-"}, {"\u221e", "\\infty "}, {"\u2264", "\\leq "},
      {"\u2265", "\\geq "}, {"\u2260", "\\neq "}, {"\u00f7", "\\div "}, {"\u222a", "\\cup "}};
  for (const auto& [from, to] : kUnicode) s = replace_all(s, from, to);
  // Currency signs (the dollar goes with the math delimiters below).
  for (const char* cur : {"\u20ac", "\u00a3", "\u00a5", "\u20b9", "\\euro", "\\pounds"})
    s = replace_all(s, cur, "");
  // ASCII relations.
  s = replace_all(s, "<=", "\\leq ");
  s = replace_all(s, ">=", "\\geq ");
  s = replace_all(s, "!=", "\\neq ");
  s = replace_command(s, "\\lt", "<");
  s = replace_command(s, "\\gt", ">");
  // Math delimiters and dollars.
  s = replace_all(s, "\\$", "");
  s = replace_all(s, "$", "");
  s = replace_all(s, "\\(", "");
  s = replace_all(s, "\\)", "");
  s = replace_all(s, "\\[", "");
  s = replace_all(s, "\\]", "");
  // Sizing and spacing.
  for (const char* cmd : {"\\left", "\\right", "\\bigl", "\\bigr", "\\Bigl", "\\Bigr", "\\big",
                          "\\Big", "\\displaystyle", "\\quad", "\\qquad"}) {
    s = replace_command(s, std::string(cmd) + ".", "");
    s = replace_command(s, cmd, "");
  }
  {
    // \! \, \; \: "\ " and ~ are spacing; "\\" (a matrix row break) is kept as it is.
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\\' && i + 1 < s.size()) {
        char n = s[i + 1];
        if (n == '\\') {
          out += "\\\\";
          ++i;
          continue;
        }
        if (n == '!' || n == ',' || n == ';' || n == ':' || n == ' ') {
          out += ' ';
          ++i;
          continue;
        }
      }
      out += s[i] == '~' ? ' ' : s[i];
    }
    s = out;
  }
  s = replace_all(s, "{,}", ",");
  // Fractions, relations.
  s = replace_command(s, "\\dfrac", "\\frac");
  s = replace_command(s, "\\tfrac", "\\frac");
  s = replace_command(s, "\\cfrac", "\\frac");
  s = replace_command(s, "\\le", "\\leq");
  s = replace_command(s, "\\leqslant", "\\leq");
  s = replace_command(s, "\\ge", "\\geq");
  s = replace_command(s, "\\geqslant", "\\geq");
  s = replace_command(s, "\\ne", "\\neq");
  s = replace_command(s, "\\lbrace", "\\{");
  s = replace_command(s, "\\rbrace", "\\}");
  // Degrees and percent.
  for (const char* deg : {"^{\\circ}", "^\\circ", "^{\\degree}", "\\degree", "\\circ", "°"})
    s = replace_all(s, deg, "");
  s = replace_all(s, "\\%", "");
  s = replace_all(s, "%", "");
  // \text{...} and friends: a trailing unit text goes, then the rest is unwrapped.
  for (const char* cmd : {"\\textnormal", "\\textrm", "\\textbf", "\\textit", "\\mathrm"})
    s = replace_command(s, cmd, "\\text");
  s = cut_trailing_text(s);
  s = unwrap_text_commands(s);
  s = replace_word(s, "infinity", "\\infty");
  s = replace_word(s, "inf", "\\infty");
  s = trim(s);
  {
    std::string l = lower(s);
    for (const char* w : {"percentage", "percent", "pct"}) {
      size_t n = std::char_traits<char>::length(w);
      if (l.size() > n && l.compare(l.size() - n, n, w) == 0 &&
          looks_numeric(s.substr(0, s.size() - n))) {
        s = trim(s.substr(0, s.size() - n));
        break;
      }
    }
  }
  // " and " between list items.
  s = replace_all(s, " and ", ",");
  s = replace_all(s, " or ", ",");
  while (!s.empty() && (s.back() == '.' || s.back() == ' ')) {
    if (s.size() >= 2 && s[s.size() - 2] == '\\') break;
    s.pop_back();
  }
  s = strip_units(s);
  // Thousands separators (before spaces go): "1 000" and "7,425,000".
  s = strip_thousands(trim(s), ' ');
  // Remove spaces, except that "\cmd x" must keep its command separated from a letter.
  {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] != ' ') {
        out += s[i];
        continue;
      }
      // keep one space between a command name and a following letter: "\pi r" -> "\pi r"
      size_t j = i;
      while (j < s.size() && s[j] == ' ') ++j;
      size_t k = out.size();
      while (k > 0 && is_alpha(out[k - 1])) --k;
      bool after_cmd = k > 0 && k < out.size() && out[k - 1] == '\\';
      if (after_cmd && j < s.size() && is_alpha(s[j])) out += ' ';
      i = j - 1;
    }
    s = out;
  }
  s = strip_thousands(s, ',');
  s = fix_bare_args(s);
  // Leading "0." for ".5"; canonical digit runs.
  s = canonical_numbers(s);
  // "(C)" -> "C" for multiple-choice letters.
  if (s.size() == 3 && s[0] == '(' && s[2] == ')' && std::isupper(static_cast<unsigned char>(s[1])))
    s = s.substr(1, 1);
  // Words compare case-insensitively ("Yes" == "yes"); single letters keep their case.
  // Math-Verify lowercases every letter; popo does it for whole-word and one-letter answers (the
  // LaTeX parser lowercases variables inside expressions).
  if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return is_alpha(c); }))
    s = lower(s);
  if (!s.empty() && s[0] == '+') s = s.substr(1);
  s = mixed_number(s);
  return s;
}

}  // namespace popo
