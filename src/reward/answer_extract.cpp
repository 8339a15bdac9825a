// Final-answer extraction; see answer_extract.h. Every rule is one linear pass over the response.
#include "reward/answer_extract.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace popo {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// Returns match[i] = index of the '}' closing the '{' at i (npos when unclosed or not a brace).
// Escaped braces (\{ and \}) are literal characters and do not count. One pass with a stack.
std::vector<size_t> match_braces(const std::string& s) {
  std::vector<size_t> match(s.size(), std::string::npos);
  std::vector<size_t> stack;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size() && (s[i + 1] == '{' || s[i + 1] == '}')) {
      ++i;
      continue;
    }
    if (c == '{') {
      stack.push_back(i);
    } else if (c == '}' && !stack.empty()) {
      match[stack.back()] = i;
      stack.pop_back();
    }
  }
  return match;
}

// Finds, walking back from the end, the occurrences of several markers in s. Each marker's
// last position is cached, so the whole walk is linear in s.
class BackwardScanner {
 public:
  BackwardScanner(const std::string& s, std::vector<std::string> markers)
      : s_(s), markers_(std::move(markers)), pos_(markers_.size(), kUnknown) {}
  // Returns the largest position p < limit where a marker starts (ties: the longest marker), and
  // that marker's length in *len; npos when none.
  size_t previous(size_t limit, size_t* len) {
    size_t best = std::string::npos;
    for (size_t m = 0; m < markers_.size(); ++m) {
      const std::string& mk = markers_[m];
      if (pos_[m] == kUnknown || (pos_[m] != std::string::npos && pos_[m] >= limit)) {
        pos_[m] = limit < mk.size() ? std::string::npos : s_.rfind(mk, limit - mk.size());
        // rfind may return a position whose marker overruns limit only if it starts < limit.
      }
      size_t p = pos_[m];
      if (p != std::string::npos &&
          (best == std::string::npos || p > best || (p == best && mk.size() > *len))) {
        best = p;
        *len = mk.size();
      }
    }
    return best;
  }

 private:
  static constexpr size_t kUnknown = std::string::npos - 1;
  const std::string& s_;
  std::vector<std::string> markers_;
  std::vector<size_t> pos_;
};

// Strips wrappers a model puts around a phrase answer: $...$, \(...\), **...**, a final period.
std::string clean_phrase(std::string x) {
  for (int round = 0; round < 4; ++round) {
    std::string before = x;
    x = trim(x);
    while (!x.empty() && (x.back() == '.' || x.back() == ',' || x.back() == ';')) x.pop_back();
    x = trim(x);
    if (x.size() >= 2 && x.compare(0, 2, "**") == 0) x = x.substr(2);
    if (x.size() >= 2 && x.compare(x.size() - 2, 2, "**") == 0) x = x.substr(0, x.size() - 2);
    if (x.size() >= 2 && x.front() == '$' && x.back() == '$') {
      size_t k = 0;
      while (k < x.size() / 2 && x[k] == '$' && x[x.size() - 1 - k] == '$') ++k;
      x = x.substr(k, x.size() - 2 * k);
    }
    if (x.size() >= 4 && (x.compare(0, 2, "\\(") == 0 || x.compare(0, 2, "\\[") == 0) &&
        (x.compare(x.size() - 2, 2, "\\)") == 0 || x.compare(x.size() - 2, 2, "\\]") == 0)) {
      x = x.substr(2, x.size() - 4);
    }
    if (x == before) break;
  }
  return x;
}

// Returns the phrase after the last "answer is" / "answer:" / "####" marker, or "".
std::string answer_phrase(const std::string& response) {
  std::string lower(response.size(), ' ');
  std::transform(response.begin(), response.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  BackwardScanner scan(lower, {"answer is:", "answer is", "answer:", "####"});
  size_t search_end = lower.size();
  while (true) {
    size_t best_len = 0;
    size_t best = scan.previous(search_end, &best_len);
    if (best == std::string::npos) return "";
    size_t start = best + best_len;
    size_t end = response.find('\n', start);
    if (end == std::string::npos) end = response.size();
    // "The answer is $x$, so ..." keeps the math span only.
    size_t a = start;
    while (a < end && is_space(response[a])) ++a;
    if (a < end && response[a] == '$') {
      size_t b = a;
      while (b < end && response[b] == '$') ++b;
      size_t close = response.find('$', b);
      if (close != std::string::npos && close < end) end = close + (close + 1 < end && response[close + 1] == '$' ? 2 : 1);
    }
    // "The answer is 5. I hope it is correct.": the answer ends at the first sentence break.
    size_t stop = response.find(". ", start);
    if (stop != std::string::npos && stop < end) end = stop;
    std::string x = clean_phrase(response.substr(start, end - start));
    if (!x.empty()) return x;
    if (best == 0) return "";
    search_end = best;
  }
}

// Returns the last number in s (digits with optional thousands commas, decimals, sign), or "".
std::string last_number(const std::string& s) {
  size_t i = s.size();
  while (i > 0 && !std::isdigit(static_cast<unsigned char>(s[i - 1]))) --i;
  if (i == 0) return "";
  size_t end = i;
  size_t b = end;
  while (b > 0) {
    char c = s[b - 1];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      --b;
    } else if ((c == ',' || c == '.') && b >= 2 &&
               std::isdigit(static_cast<unsigned char>(s[b - 2]))) {
      --b;
    } else {
      break;
    }
  }
  if (b > 0 && s[b - 1] == '.') --b;  // ".5"
  if (b > 0 && s[b - 1] == '-') --b;
  std::string x = s.substr(b, end - b);
  while (!x.empty() && (x.back() == ',' || x.back() == '.')) x.pop_back();
  return x;
}

}  // namespace

std::string last_boxed_content(const std::string& s) {
  BackwardScanner scan(s, {"\\boxed", "\\fbox"});
  std::vector<size_t> match;  // computed lazily: most responses have one \boxed
  size_t search_end = s.size();
  while (true) {
    size_t best_len = 0;
    size_t best = scan.previous(search_end, &best_len);
    if (best == std::string::npos) return "";
    size_t i = best + best_len;
    bool letter_follows = i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]));
    if (!letter_follows) {
      size_t j = i;
      while (j < s.size() && is_space(s[j])) ++j;
      if (j < s.size() && s[j] == '{') {
        if (match.empty()) match = match_braces(s);
        if (match[j] != std::string::npos) return trim(s.substr(j + 1, match[j] - j - 1));
      } else if (j > i && j < s.size()) {
        // "\boxed 5": up to the next space or '$'.
        size_t k = j;
        while (k < s.size() && !is_space(s[k]) && s[k] != '$') ++k;
        std::string x = s.substr(j, k - j);
        while (!x.empty() && (x.back() == '.' || x.back() == ',')) x.pop_back();
        if (!x.empty()) return x;
      }
    }
    if (best == 0) return "";
    search_end = best;
  }
}

Extraction extract_answer(const std::string& response, bool allow_last_number) {
  Extraction out;
  std::string boxed = last_boxed_content(response);
  if (!boxed.empty()) {
    out.answer = boxed;
    out.rule = ExtractRule::kBoxed;
    return out;
  }
  std::string phrase = answer_phrase(response);
  if (!phrase.empty()) {
    out.answer = phrase;
    out.rule = ExtractRule::kAnswerIs;
    return out;
  }
  if (allow_last_number) {
    std::string num = last_number(response);
    if (!num.empty()) {
      out.answer = num;
      out.rule = ExtractRule::kLastNumber;
    }
  }
  return out;
}

const char* rule_name(ExtractRule rule) {
  switch (rule) {
    case ExtractRule::kNone: return "none";
    case ExtractRule::kBoxed: return "boxed";
    case ExtractRule::kAnswerIs: return "answer_is";
    case ExtractRule::kLastNumber: return "last_number";
  }
  return "none";
}

}  // namespace popo
