// Final-answer extraction; see answer_extract.h and docs/VERIFIER.md §2. Each rule is one linear
// scan; the priority levels are tried in order and the first level with a usable candidate wins.
#include "reward/answer_extract.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "core/error.h"
#include "core/strings.h"

namespace popo {

namespace {

constexpr size_t kNpos = std::string::npos;
constexpr size_t kMaxItems = 1000;  // candidates joined into one list (more are dropped)

bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }
bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

bool starts_at(const std::string& s, size_t i, const char* p) {
  size_t n = std::char_traits<char>::length(p);
  return i + n <= s.size() && s.compare(i, n, p) == 0;
}

std::string to_lower(const std::string& s) {
  std::string out(s.size(), ' ');
  std::transform(s.begin(), s.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Returns the first occurrence of a fixed needle at or after `from`. Queries with growing `from`
// reuse the previous answer, so a left-to-right scan costs one pass over the text in all.
class Finder {
 public:
  Finder(const std::string& s, const char* needle) : s_(s), needle_(needle) {}
  size_t next(size_t from) {
    if (!(has_ && from >= from_ && (found_ == kNpos || from <= found_))) {
      found_ = s_.find(needle_, from);
      from_ = from;
      has_ = true;
    }
    return found_;
  }

 private:
  const std::string& s_;
  const char* needle_;
  bool has_ = false;
  size_t from_ = 0, found_ = kNpos;
};

// One candidate answer: its span in the text and the item(s) it holds.
struct Cand {
  size_t begin = 0, end = 0;  // [begin, end) in the text
  std::vector<std::string> items;
  ExtractRule rule = ExtractRule::kNone;
  bool weak = false;  // a bare phrase: loses ties against an environment or a number
};

// ---- boxes -----------------------------------------------------------------------------------

// Returns match[i] = index of the '}' closing the '{' at i (npos when unclosed or not a brace).
// Escaped braces (\{ and \}) are literal characters. One pass with a stack.
std::vector<size_t> match_braces(const std::string& s) {
  std::vector<size_t> match(s.size(), kNpos);
  std::vector<size_t> stack;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size() && (s[i + 1] == '{' || s[i + 1] == '}')) {
      ++i;
    } else if (c == '{') {
      stack.push_back(i);
    } else if (c == '}' && !stack.empty()) {
      match[stack.back()] = i;
      stack.pop_back();
    }
  }
  return match;
}

// Returns every complete \boxed{..} / \fbox{..} / "\boxed 5" in text order, boxes nested inside
// an earlier one dropped (its content keeps them; normalisation unwraps them).
std::vector<Cand> find_boxes(const std::string& s) {
  std::vector<Cand> boxes;
  std::vector<size_t> match;  // built on the first braced box: most texts have none or one
  Finder boxed(s, "\\boxed"), fbox(s, "\\fbox");
  size_t i = 0;
  while (true) {
    size_t pb = boxed.next(i), pf = fbox.next(i);
    size_t p = std::min(pb, pf);
    if (p == kNpos) break;
    size_t j = p + (p == pb ? 6 : 5);
    i = j;
    if (j < s.size() && is_alpha(s[j])) continue;  // \boxedx is another command
    size_t k = j;
    while (k < s.size() && is_space(s[k])) ++k;
    if (k < s.size() && s[k] == '{') {
      if (match.empty()) match = match_braces(s);
      if (match[k] == kNpos) continue;
      Cand c{p, match[k] + 1, {trim(s.substr(k + 1, match[k] - k - 1))}, ExtractRule::kBoxed};
      if (!boxes.empty() && p < boxes.back().end) continue;  // nested in the previous box
      boxes.push_back(c);
    } else if (k > j && k < s.size()) {  // "\boxed 5": up to the next space or '$'
      size_t e = k;
      while (e < s.size() && !is_space(s[e]) && s[e] != '$') ++e;
      std::string x = s.substr(k, e - k);
      while (!x.empty() && (x.back() == '.' || x.back() == ',')) x.pop_back();
      if (x.empty() || (!boxes.empty() && p < boxes.back().end)) continue;
      boxes.push_back({p, e, {x}, ExtractRule::kBoxed});
    }
  }
  return boxes;
}

// Returns true if the text between two boxes joins them into one answer (Math-Verify's mode
// "last"): under 10 characters, or under 70 with a word "and" / "or", a ',' or a ';'.
bool boxes_join(const std::string& gap) {
  if (gap.size() < 10) return true;
  if (gap.size() >= 70) return false;
  if (gap.find(',') != kNpos || gap.find(';') != kNpos) return true;
  std::string l = to_lower(gap);
  for (const char* w : {"and", "or"}) {
    size_t n = std::char_traits<char>::length(w);
    for (size_t p = l.find(w); p != kNpos; p = l.find(w, p + 1)) {
      bool left = p == 0 || !is_alpha(l[p - 1]);
      bool right = p + n >= l.size() || !is_alpha(l[p + n]);
      if (left && right) return true;
    }
  }
  return false;
}

// Returns the boxed answer: the rightmost box plus the earlier boxes joined to it, consecutive
// equal contents kept once; nullopt-like empty Cand when there is no box.
Cand boxed_group(const std::string& s, const std::vector<Cand>& boxes) {
  Cand out;
  if (boxes.empty()) return out;
  size_t k = boxes.size() - 1;
  size_t first = k;
  while (first > 0 && k - first < kMaxItems &&
         boxes_join(s.substr(boxes[first - 1].end, boxes[first].begin - boxes[first - 1].end)))
    --first;
  out.begin = boxes[first].begin;
  out.end = boxes[k].end;
  out.rule = ExtractRule::kBoxed;
  for (size_t b = first; b <= k; ++b) {
    const std::string& c = boxes[b].items[0];
    if (c.empty()) continue;
    if (out.items.empty() || out.items.back() != c) out.items.push_back(c);
  }
  return out;
}

// ---- LaTeX environments -----------------------------------------------------------------------

// Returns the end of a LaTeX environment starting at s[i] ($$..$$, \[..\], $..$ on one line,
// \(..\) on one line, or a bare \frac{n}{m} of plain numbers) and its content in *content;
// npos when none starts there.
struct EnvFinders {
  Finder dollars, bracket, paren, newline;
  explicit EnvFinders(const std::string& s)
      : dollars(s, "$$"), bracket(s, "\\]"), paren(s, "\\)"), newline(s, "\n") {}
};

size_t env_at(const std::string& s, size_t i, EnvFinders& f, std::string* content) {
  if (i >= s.size()) return kNpos;
  auto close_at = [&](size_t from, const char* close, bool one_line) -> size_t {
    Finder& fd = close[0] == '$' ? f.dollars : close[1] == ']' ? f.bracket : f.paren;
    size_t e = fd.next(from);
    if (e == kNpos) return kNpos;
    if (one_line && f.newline.next(from) < e) return kNpos;
    *content = s.substr(from, e - from);
    return e + std::char_traits<char>::length(close);
  };
  if (s[i] == '$') {
    if (i > 0 && (s[i - 1] == '\\' || is_digit(s[i - 1]))) return kNpos;
    if (starts_at(s, i, "$$")) return close_at(i + 2, "$$", false);
    size_t e = i + 1;
    while (e < s.size() && s[e] != '$' && s[e] != '\n') {
      if (s[e] == '\\' && e + 1 < s.size()) ++e;  // \$ inside math is a dollar sign
      ++e;
    }
    if (e >= s.size() || s[e] != '$' || e == i + 1) return kNpos;
    *content = s.substr(i + 1, e - i - 1);
    return e + 1;
  }
  if (s[i] != '\\') return kNpos;
  if (starts_at(s, i, "\\[")) return close_at(i + 2, "\\]", false);
  if (starts_at(s, i, "\\(")) return close_at(i + 2, "\\)", true);
  if (starts_at(s, i, "\\frac{") || starts_at(s, i, "\\dfrac{")) {
    size_t j = s.find('{', i);
    size_t a = j + 1;
    while (a < s.size() && is_digit(s[a])) ++a;
    if (a == j + 1 || !starts_at(s, a, "}{")) return kNpos;
    size_t b = a + 2;
    while (b < s.size() && is_digit(s[b])) ++b;
    if (b == a + 2 || b >= s.size() || s[b] != '}') return kNpos;
    *content = s.substr(i, b + 1 - i);
    return b + 1;
  }
  return kNpos;
}

// Returns the length of a percent marker at s[i] after optional spaces (%, \%, percent,
// percentage, pct), 0 when none.
size_t percent_at(const std::string& s, size_t i) {
  size_t j = i;
  while (j < s.size() && s[j] == ' ') ++j;
  for (const char* p : {"\\%", "%", "percentage", "percent", "pct"}) {
    size_t n = std::char_traits<char>::length(p);
    if (starts_at(s, j, p) && !(is_alpha(p[0]) && j + n < s.size() && is_alpha(s[j + n])))
      return j + n - i;
  }
  return 0;
}

// Returns the length of a list joiner at s[i]: spaces, then ",", "and", "or", ", and", ", or",
// then spaces; 0 when none. with_space accepts a bare run of spaces (plain numbers "1 2 3").
size_t joiner_at(const std::string& s, size_t i, bool with_space) {
  size_t j = i;
  while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
  size_t k = j;
  if (k < s.size() && (s[k] == ',' || s[k] == ';')) {
    ++k;
    while (k < s.size() && s[k] == ' ') ++k;
  }
  for (const char* w : {"and", "or", "\\text{ and }", "\\text{ or }"}) {
    size_t n = std::char_traits<char>::length(w);
    if (starts_at(s, k, w) && !(k + n < s.size() && is_alpha(s[k + n]))) {
      k += n;
      break;
    }
  }
  if (k == j && !(with_space && j > i)) return 0;
  while (k < s.size() && (s[k] == ' ' || s[k] == '\t')) ++k;
  return k - i;
}

// Returns the environment starting at s[i] together with the environments joined to it by
// `,` / `and` / `or` (and a percent marker after each); empty Cand when none starts there.
Cand env_chain_at(const std::string& s, size_t i, EnvFinders& f) {
  Cand c;
  std::string content;
  size_t e = env_at(s, i, f, &content);
  if (e == kNpos) return c;
  c.begin = i;
  c.rule = ExtractRule::kLatex;
  while (true) {
    size_t pct = percent_at(s, e);
    if (pct > 0 && content.find('%') == kNpos) content += "\\%";
    e += pct;
    if (!trim(content).empty() && c.items.size() < kMaxItems) c.items.push_back(trim(content));
    c.end = e;
    size_t j = joiner_at(s, e, /*with_space=*/false);
    if (j == 0) break;
    size_t e2 = env_at(s, e + j, f, &content);
    if (e2 == kNpos) break;
    e = e2;
  }
  return c;
}

// ---- plain numbers and expressions ------------------------------------------------------------

bool currency_at(const std::string& s, size_t i, size_t* len) {
  for (const char* c : {"$", "\u20ac", "\u00a3", "\u00a5", "\u20b9"}) {
    if (starts_at(s, i, c)) {
      *len = std::char_traits<char>::length(c);
      return true;
    }
  }
  return false;
}

// Returns the end of a plain number at s[i] in Math-Verify's forms (thousands groups, decimal
// comma, .5, integer) and its value text in *value (separators dropped, comma -> point).
size_t number_at(const std::string& s, size_t i, std::string* value) {
  size_t j = i;
  bool neg = j < s.size() && s[j] == '-';
  if (neg) ++j;
  if (j >= s.size()) return kNpos;
  auto digits_end = [&](size_t k) {
    while (k < s.size() && is_digit(s[k])) ++k;
    return k;
  };
  if (s[j] == '.' && j + 1 < s.size() && is_digit(s[j + 1])) {  // (3) .5
    size_t e = digits_end(j + 1);
    *value = (neg ? "-0" : "0") + s.substr(j, e - j);
    return e;
  }
  if (!is_digit(s[j])) return kNpos;
  size_t d = digits_end(j);
  // (1) 1,234,567 / 1 234 567 (exactly three digits per group), optional .decimals
  if (s[j] != '0' && d - j <= 3) {
    size_t e = d;
    std::string v = s.substr(j, d - j);
    int groups = 0;
    while (e + 3 < s.size() + 0 && (s[e] == ',' || s[e] == ' ') && is_digit(s[e + 1]) &&
           digits_end(e + 1) == e + 4) {
      v += s.substr(e + 1, 3);
      e += 4;
      ++groups;
    }
    if (groups > 0) {
      if (e + 1 < s.size() && s[e] == '.' && is_digit(s[e + 1])) {
        size_t f = digits_end(e + 1);
        v += s.substr(e, f - e);
        e = f;
      }
      *value = (neg ? "-" : "") + v;
      return e;
    }
  }
  // (2) 3.5 / 3,5 (a comma only when it is not part of a longer comma list "1,2,3")
  if (d + 1 < s.size() && (s[d] == '.' || s[d] == ',') && is_digit(s[d + 1])) {
    size_t f = digits_end(d + 1);
    bool list = s[d] == ',' && ((f < s.size() && s[f] == ',') || (j > 0 && s[j - 1] == ','));
    if (!list) {
      *value = (neg ? "-" : "") + s.substr(j, d - j) + "." + s.substr(d + 1, f - d - 1);
      return f;
    }
  }
  *value = (neg ? "-" : "") + s.substr(j, d - j);  // (4) integer
  return d;
}

bool expr_char(char c) {
  return is_digit(c) || c == '.' || c == ' ' || c == '+' || c == '-' || c == '*' || c == '/' ||
         c == '^' || c == '(' || c == ')';
}

// Returns the end of an arithmetic expression with at least one operator at s[i] ("2 + 3",
// "(4-1)*2", "12/5"), or npos. It must be followed by . , : whitespace ) $ or the end.
size_t expression_at(const std::string& s, size_t i, const std::vector<size_t>& next_op) {
  size_t j = i;
  if (j < s.size() && s[j] == '-') ++j;
  if (j < s.size() && s[j] == '(') ++j;
  if (j < s.size() && s[j] == '-') ++j;
  if (j >= s.size() || !is_digit(s[j])) return kNpos;
  if (next_op[std::min(j + 1, s.size())] >= std::min(s.size(), i + 400)) return kNpos;
  size_t g = j;
  while (g < s.size() && g - i < 400 &&
         (expr_char(s[g]) || starts_at(s, g, "\u00d7") || starts_at(s, g, "\u00f7"))) {
    g += (static_cast<unsigned char>(s[g]) >= 0x80) ? 2 : 1;
  }
  g = std::min(g, s.size());
  if (next_op[std::min(j + 1, s.size())] >= g) return kNpos;  // no operator in the window
  // One forward pass: the last end that closes on a digit or ')', is followed by an allowed
  // character, has an operator before it and balanced parentheses from i.
  int depth = 0;
  for (size_t k = i; k < j; ++k) depth += s[k] == '(' ? 1 : 0;
  bool op = false;
  size_t best = kNpos;
  for (size_t k = j; k < g; ++k) {
    char c = s[k];
    if (c == '(') ++depth;
    if (c == ')' && --depth < 0) break;
    op = op || c == '+' || c == '*' || c == '/' || c == '^' || (c == '-' && k > j) ||
         static_cast<unsigned char>(c) == 0xc3;  // × ÷ (UTF-8 lead byte)
    if (!op || depth != 0 || !(is_digit(c) || c == ')')) continue;
    size_t e = k + 1;
    bool follow_ok = e == s.size() || s[e] == '.' || s[e] == ',' || s[e] == ':' ||
                     is_space(s[e]) || s[e] == ')' || s[e] == '$';
    if (follow_ok) best = e;
  }
  return best;
}

// Every plain number / expression of the text, left to right, non-overlapping. A match must
// start the text or follow whitespace, '=' or ':', then optional "**" and a currency sign.
std::vector<Cand> plain_matches(const std::string& s) {
  std::vector<Cand> out;
  // next_op[k]: the first operator character at or after k (a text without one costs O(1) per
  // number instead of a scan of the expression window).
  std::vector<size_t> next_op(s.size() + 1, s.size());
  for (size_t k = s.size(); k > 0; --k) {
    char c = s[k - 1];
    bool op = c == '+' || c == '-' || c == '*' || c == '/' || c == '^' ||
              static_cast<unsigned char>(c) == 0xc3;
    next_op[k - 1] = op ? k - 1 : next_op[k];
  }
  size_t i = 0;
  while (i < s.size()) {
    bool ctx = i == 0 || is_space(s[i - 1]) || s[i - 1] == '=' || s[i - 1] == ':';
    if (!ctx) {
      ++i;
      continue;
    }
    size_t j = i;
    if (starts_at(s, j, "**")) j += 2;
    size_t cl = 0;
    if (currency_at(s, j, &cl)) j += cl;
    char c = j < s.size() ? s[j] : 0;
    if (!(is_digit(c) || c == '-' || c == '(' || c == '.')) {
      ++i;
      continue;
    }
    std::string value;
    size_t e = expression_at(s, j, next_op);
    if (e != kNpos) {
      value = s.substr(j, e - j);
    } else {
      e = number_at(s, j, &value);
    }
    if (e == kNpos) {
      ++i;
      continue;
    }
    size_t pct = percent_at(s, e);
    if (pct > 0) value += "\\%";
    e += pct;
    if (starts_at(s, e, "**")) e += 2;
    out.push_back({i, e, {value}, ExtractRule::kLastNumber});
    if (out.size() > 100000) out.erase(out.begin(), out.begin() + 50000);  // bounded memory
    i = e;
  }
  return out;
}

// Joins plain match k with its neighbours separated only by a list joiner ("1, 2, 3", "3 or 5",
// "1 2 3"): a hedge then reads as a list, never as its last element.
Cand plain_list(const std::string& s, const std::vector<Cand>& m, size_t k) {
  size_t a = k, b = k;
  auto joined = [&](size_t x, size_t y) {
    size_t j = joiner_at(s, m[x].end, /*with_space=*/true);
    return j > 0 && m[x].end + j == m[y].begin;
  };
  while (a > 0 && k - a < kMaxItems && joined(a - 1, a)) --a;
  while (b + 1 < m.size() && b - a < kMaxItems && joined(b, b + 1)) ++b;
  Cand c{m[a].begin, m[b].end, {}, ExtractRule::kLastNumber};
  for (size_t x = a; x <= b; ++x) {
    const std::string& v = m[x].items[0];
    if (std::find(c.items.begin(), c.items.end(), v) == c.items.end()) c.items.push_back(v);
  }
  return c;
}

// ---- anchors ----------------------------------------------------------------------------------

// Returns the number of words of at least min_len letters in p outside commands, the braced
// argument of \\begin, \\end, \\text, \\mbox, \\operatorname and friends, and subscripts.
int prose_words(const std::string& p, size_t min_len) {
  int words = 0;
  for (size_t i = 0; i < p.size();) {
    if (p[i] == '\\') {
      size_t j = i + 1;
      while (j < p.size() && is_alpha(p[j])) ++j;
      std::string cmd = p.substr(i + 1, j - i - 1);
      bool skip_arg = cmd == "begin" || cmd == "end" || cmd == "operatorname" ||
                      cmd.compare(0, 4, "text") == 0 || cmd == "mbox" || cmd.compare(0, 4, "math") == 0;
      if (skip_arg && j < p.size() && p[j] == '{') {
        size_t close = p.find('}', j);
        j = close == kNpos ? p.size() : close + 1;
      }
      i = std::max(j, i + 1);
      continue;
    }
    if (is_alpha(p[i])) {
      size_t j = i;
      while (j < p.size() && is_alpha(p[j])) ++j;
      if (j - i >= min_len) ++words;
      i = j;
      continue;
    }
    ++i;
  }
  return words;
}

// Returns true if a phrase reads as an answer rather than prose: short, at most one word of two
// or more letters outside commands and \\text{}.
bool looks_like_math(const std::string& p) {
  if (p.empty() || p.size() > 120 || p.find('$') != kNpos) return false;
  return prose_words(p, 2) <= 1;
}

// The phrase directly after an anchor, up to the end of its line or sentence, when it is not a
// LaTeX environment and reads as math ("answer: (1, 2)", "answer is \frac{1}{2}").
Cand phrase_at(const std::string& s, size_t i) {
  Cand c;
  size_t j = i;
  while (j < s.size() && (s[j] == ' ' || s[j] == ':' || s[j] == '*')) ++j;
  if (j >= s.size() || s[j] == '$' || starts_at(s, j, "\\(") || starts_at(s, j, "\\[")) return c;
  if (starts_at(s, j, "is") && !(j + 2 < s.size() && is_alpha(s[j + 2]))) {
    j += 2;
    while (j < s.size() && (s[j] == ' ' || s[j] == ':' || s[j] == '*')) ++j;
  }
  if (j >= s.size() || s[j] == '$' || starts_at(s, j, "\\(") || starts_at(s, j, "\\[")) return c;
  const size_t limit = std::min(s.size(), j + 200);
  size_t e = j;
  while (e < limit && s[e] != '\n' && !(s[e] == '.' && e + 1 < s.size() && s[e + 1] == ' ')) ++e;
  std::string x = s.substr(j, e - j);
  while (!x.empty() && (x.back() == '.' || x.back() == ' ' || x.back() == '*')) x.pop_back();
  if (!looks_like_math(x) || x.empty()) return c;
  c.begin = j;
  c.end = j + x.size();
  c.items = {x};
  c.rule = ExtractRule::kAnswerIs;
  c.weak = true;
  return c;
}

// Finds all case-insensitive occurrences of `word` in lower (already lowercased), returning the
// offsets just past each.
std::vector<size_t> anchors(const std::string& lower, const char* word) {
  std::vector<size_t> out;
  size_t n = std::char_traits<char>::length(word);
  for (size_t p = lower.find(word); p != kNpos && out.size() < 10000; p = lower.find(word, p + n))
    out.push_back(p + n);
  return out;
}

// Lazily computed plain matches of the text.
struct Plain {
  const std::string& s;
  bool done = false;
  std::vector<Cand> m;
  const std::vector<Cand>& get() {
    if (!done) m = plain_matches(s);
    done = true;
    return m;
  }
};

// Candidates of one anchor ending at a: the first environment starting within `window`
// characters, the first plain number/expression (also after up to 100 characters ending in '=',
// never one followed by '='), and the math phrase right after the anchor.
void anchored(const std::string& s, size_t a, size_t window, bool allow_eq, Plain& plain,
              EnvFinders& f, std::vector<Cand>* out) {
  for (size_t i = a; i < s.size() && i <= a + window; ++i) {
    if (s[i] != '$' && s[i] != '\\') continue;
    Cand c = env_chain_at(s, i, f);
    if (!c.items.empty()) {
      c.rule = ExtractRule::kAnswerIs;
      out->push_back(c);
      break;
    }
  }
  const auto& m = plain.get();
  auto it = std::lower_bound(m.begin(), m.end(), a,
                             [](const Cand& c, size_t pos) { return c.begin < pos; });
  for (; it != m.end() && it->begin <= a + window + (allow_eq ? 100 : 0); ++it) {
    size_t k = it->end;
    while (k < s.size() && is_space(s[k])) ++k;
    if (allow_eq && k < s.size() && s[k] == '=') continue;
    if (it->begin > a + window) {
      size_t q = it->begin;
      while (q > a && is_space(s[q - 1])) --q;
      if (!(q > a && s[q - 1] == '=')) continue;
    }
    Cand c = plain_list(s, m, static_cast<size_t>(it - m.begin()));
    c.rule = ExtractRule::kAnswerIs;
    out->push_back(c);
    break;
  }
  Cand p = phrase_at(s, a);
  if (!p.items.empty()) out->push_back(p);
}

// Returns the candidate of a level: the one ending rightmost (ties: the earlier start).
Cand best_of(std::vector<Cand>& cands) {
  Cand best;
  for (auto& c : cands) {
    if (c.items.empty()) continue;
    bool better = best.items.empty() || c.end > best.end ||
                  (c.end == best.end && best.weak && !c.weak) ||
                  (c.end == best.end && best.weak == c.weak && c.begin < best.begin);
    if (better) best = c;
  }
  return best;
}

Extraction to_extraction(const Cand& c) {
  Extraction e;
  if (c.items.empty()) return e;
  e.rule = c.rule;
  e.items = static_cast<int>(c.items.size());
  for (size_t i = 0; i < c.items.size(); ++i) e.answer += (i ? "," : "") + c.items[i];
  e.answer = trim(e.answer);
  if (e.answer.empty()) e.rule = ExtractRule::kNone;
  return e;
}

// Math-Verify's levels (docs/VERIFIER.md §2.1) with boxes at the top level, as POPO's predictions.
Extraction extract_math_verify(const std::string& s) {
  std::string lower = to_lower(s);
  Plain plain{s, false, {}};
  std::vector<Cand> level;
  // 0: boxes; "final answer is X. I hope"
  std::vector<Cand> boxes = find_boxes(s);
  level.push_back(boxed_group(s, boxes));
  EnvFinders f0(s);  // one set per level: its anchors come in text order
  for (size_t a : anchors(lower, "final answer is")) {
    std::vector<Cand> c;
    anchored(s, a, /*window=*/2, /*allow_eq=*/false, plain, f0, &c);
    for (auto& x : c) {
      size_t k = x.end;
      if (k < s.size() && s[k] == '.') ++k;
      while (k < s.size() && s[k] == ' ') ++k;
      if (starts_at(lower, k, "i hope")) level.push_back(x);
    }
  }
  Cand best = best_of(level);
  if (!best.items.empty()) return to_extraction(best);
  // 50: "final answer" + up to 100 characters + " is" X
  level.clear();
  EnvFinders f50(s);
  for (size_t a : anchors(lower, "final answer")) {
    size_t is = kNpos;
    for (size_t k = a; k < s.size() && k <= a + 100; ++k) {
      if (is_space(s[k]) && starts_at(lower, k + 1, "is") &&
          !(k + 3 < s.size() && is_alpha(s[k + 3]))) {
        is = k + 3;
        break;
      }
    }
    if (is == kNpos) continue;
    if (is < s.size() && s[is] == ':') ++is;
    anchored(s, is, /*window=*/2, /*allow_eq=*/false, plain, f50, &level);
  }
  best = best_of(level);
  if (!best.items.empty()) return to_extraction(best);
  // 100: "answer:" + up to 50 characters + X;  200: "answer" + up to 50 characters + X
  for (const char* anchor : {"answer:", "answer"}) {
    level.clear();
    EnvFinders fa(s);
    for (size_t a : anchors(lower, anchor))
      anchored(s, a, 50, /*allow_eq=*/true, plain, fa, &level);
    best = best_of(level);
    if (!best.items.empty()) return to_extraction(best);
  }
  // 300: the environment or plain number ending rightmost.
  level.clear();
  Cand last_env;
  EnvFinders f(s);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '$' && s[i] != '\\') continue;
    Cand c = env_chain_at(s, i, f);
    if (c.end == 0) continue;
    if (!c.items.empty()) last_env = c;
    i = c.end - 1;
  }
  level.push_back(last_env);
  const auto& m = plain.get();
  if (!m.empty()) level.push_back(plain_list(s, m, m.size() - 1));
  return to_extraction(best_of(level));
}

// Returns the rightmost plain number or expression of s (GSM8K-style), joined with its list
// neighbours like any plain answer; an empty Cand when there is none.
Cand last_plain(const std::string& s) {
  std::vector<Cand> m = plain_matches(s);
  if (m.empty()) return Cand{};
  return plain_list(s, m, m.size() - 1);
}

}  // namespace

std::string last_boxed_content(const std::string& s) {
  std::vector<Cand> boxes = find_boxes(s);
  for (size_t k = boxes.size(); k > 0; --k)
    if (!boxes[k - 1].items[0].empty()) return boxes[k - 1].items[0];
  return "";
}

Extraction extract_answer(const std::string& response, ExtractMode mode, bool allow_last_number) {
  if (mode == ExtractMode::kMathVerify && !allow_last_number) return extract_math_verify(response);
  // Boxes first; GSM8K-style grading (allow_last_number) then takes the last number ("#### 72"),
  // before any "answer" phrase, which such solutions use in passing ("the answer from step 1").
  Extraction e = to_extraction(boxed_group(response, find_boxes(response)));
  if (e.rule == ExtractRule::kNone && allow_last_number) e = to_extraction(last_plain(response));
  if (e.rule == ExtractRule::kNone && mode == ExtractMode::kMathVerify)
    e = extract_math_verify(response);
  return e;
}

Extraction extract_gold(const std::string& gold) {
  std::vector<Cand> boxes = find_boxes(gold);
  if (!boxes.empty()) {
    Extraction e = to_extraction(boxed_group(gold, boxes));
    if (e.rule != ExtractRule::kNone) return e;
  }
  // Delimited math ("$[0,1)$") or a sentence goes through the response extraction. A '$' inside
  // (OlympiadBench joins several answers as "69$,$84") does not make a gold delimited.
  const std::string t = trim(gold);
  bool delimited = starts_at(t, 0, "$") || starts_at(t, 0, "\\(") || starts_at(t, 0, "\\[");
  if (delimited || prose_words(gold, 3) >= 2) {
    Extraction e = extract_math_verify(gold);
    if (e.rule != ExtractRule::kNone) return e;
  }
  Extraction e;
  e.answer = trim(gold);
  e.rule = e.answer.empty() ? ExtractRule::kNone : ExtractRule::kWhole;
  e.items = e.answer.empty() ? 0 : 1;
  return e;
}

const char* rule_name(ExtractRule rule) {
  switch (rule) {
    case ExtractRule::kNone: return "none";
    case ExtractRule::kBoxed: return "boxed";
    case ExtractRule::kAnswerIs: return "answer_is";
    case ExtractRule::kLatex: return "latex";
    case ExtractRule::kLastNumber: return "last_number";
    case ExtractRule::kWhole: return "whole";
  }
  return "none";
}

const char* extract_mode_name(ExtractMode mode) {
  return mode == ExtractMode::kBoxed ? "boxed" : "math_verify";
}

ExtractMode parse_extract_mode(const std::string& name, const std::string& key) {
  if (name == "math_verify") return ExtractMode::kMathVerify;
  if (name == "boxed") return ExtractMode::kBoxed;
  POPO_FAIL(key, ": expected math_verify | boxed, got '", name, "'");
}

}  // namespace popo
