// Answer equivalence and the verify() entry point; see math_verifier.h.
#include "reward/math_verifier.h"

#include <chrono>
#include <cctype>
#include <cmath>
#include <optional>
#include <vector>

#include "core/strings.h"
#include "reward/latex_expr.h"
#include "reward/math_normalize.h"

namespace popo {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMaxDepth = 6;             // nesting of tuples inside tuples
constexpr size_t kMaxElements = 200;     // elements of one tuple / set
constexpr size_t kMaxSymbolicLen = 4000;  // longer normalised answers are compared as strings
constexpr size_t kMaxAnswerLen = 100000;  // longer extracted answers are refused unread

bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }
bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

struct Ctx {
  const VerifyOptions& opt;
  Clock::time_point deadline;
  bool gold_percent;  // the gold says %: the prediction may give the number or its hundredth
  bool pred_percent;  // the prediction says %: the gold may be the number or its hundredth
};

// Relative tolerance of symbolic comparisons at sample points (expressions with variables).
double symbolic_tol(const VerifyOptions& opt) { return std::max(opt.rel_tol, 1e-9); }

// ---- numbers -------------------------------------------------------------------------------

struct Number {
  long double value = 0;
  bool is_integer = false;  // a plain integer literal: compared digit for digit
  bool is_float = false;    // written with a decimal point or an e-exponent (Math-Verify's Float)
  std::string digits;       // the integer's digits, sign included
};

// Parses a plain decimal "-12.5" at s[i..]; returns the end index or npos.
size_t scan_decimal(const std::string& s, size_t i) {
  size_t j = i;
  if (j < s.size() && (s[j] == '-' || s[j] == '+')) ++j;
  size_t d0 = j;
  while (j < s.size() && is_digit(s[j])) ++j;
  bool any = j > d0;
  if (j < s.size() && s[j] == '.') {
    size_t f0 = ++j;
    while (j < s.size() && is_digit(s[j])) ++j;
    any = any || j > f0;
  }
  return any ? j : std::string::npos;
}

std::optional<long double> to_ld(const std::string& s) {
  if (s.size() > 400) return std::nullopt;
  try {
    size_t used = 0;
    long double v = std::stold(s, &used);
    if (used != s.size() || !std::isfinite(v)) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Reads a power-of-ten exponent written "{k}" or "k" at s[i..] up to the end of s.
std::optional<long> read_exponent(const std::string& s, size_t i) {
  std::string e = s.substr(i);
  if (e.size() >= 2 && e.front() == '{' && e.back() == '}') e = e.substr(1, e.size() - 2);
  size_t end = scan_decimal(e, 0);
  if (end != e.size() || e.find('.') != std::string::npos || e.size() > 6) return std::nullopt;
  return std::stol(e);
}

// Returns the value of a plain number form: integer, decimal, a/b, \frac{a}{b}, 4.5e33,
// 4.5\times10^{33}, 10^{5}; nullopt for anything else.
std::optional<Number> parse_number(const std::string& s) {
  if (s.empty() || s.size() > 400) return std::nullopt;
  Number n;
  std::string t = s;
  bool neg = false;
  if (t[0] == '-') {
    neg = true;
    t = t.substr(1);
  }
  if (t.compare(0, 6, "\\frac{") == 0) {
    size_t mid = t.find("}{");
    if (mid == std::string::npos || t.back() != '}') return std::nullopt;
    auto a = to_ld(t.substr(6, mid - 6));
    auto b = to_ld(t.substr(mid + 2, t.size() - mid - 3));
    if (!a || !b || *b == 0 || scan_decimal(t.substr(6, mid - 6), 0) != mid - 6) return std::nullopt;
    if (scan_decimal(t.substr(mid + 2, t.size() - mid - 3), 0) != t.size() - mid - 3)
      return std::nullopt;
    n.value = (neg ? -1 : 1) * *a / *b;
    n.is_float = t.find('.') != std::string::npos;
    return n;
  }
  if (t.compare(0, 3, "10^") == 0) {  // 10^{5}
    auto k = read_exponent(t, 3);
    if (!k || std::labs(*k) > 4000) return std::nullopt;
    n.value = (neg ? -1 : 1) * std::pow(10.0L, static_cast<long double>(*k));
    if (!std::isfinite(n.value)) return std::nullopt;
    return n;
  }
  size_t end = scan_decimal(t, 0);
  if (end == std::string::npos) return std::nullopt;
  if (t[0] == '+' || t[0] == '-') return std::nullopt;
  std::string mant = t.substr(0, end);
  auto m = to_ld(mant);
  if (!m) return std::nullopt;
  std::string rest = t.substr(end);
  n.is_float = mant.find('.') != std::string::npos;
  if (rest.empty()) {
    n.value = neg ? -*m : *m;
    if (mant.find('.') == std::string::npos) {
      n.is_integer = true;
      size_t z = 0;
      while (z + 1 < mant.size() && mant[z] == '0') ++z;
      n.digits = mant.substr(z);
      if (neg && n.digits != "0") n.digits = "-" + n.digits;
    }
    return n;
  }
  if (rest[0] == '/') {
    auto b = to_ld(rest.substr(1));
    if (!b || *b == 0 || scan_decimal(rest, 1) != rest.size()) return std::nullopt;
    n.value = (neg ? -1 : 1) * *m / *b;
    return n;
  }
  std::optional<long> k;
  if (rest[0] == 'e' || rest[0] == 'E') {
    k = read_exponent(rest, 1);
    n.is_float = true;
  } else {
    for (const char* times : {"\\times10^", "\\cdot10^", "*10^", "\\times 10^", "\\cdot 10^"}) {
      std::string tm = times;
      if (rest.compare(0, tm.size(), tm) == 0) k = read_exponent(rest, tm.size());
    }
  }
  if (!k || std::labs(*k) > 4000) return std::nullopt;
  n.value = (neg ? -1 : 1) * *m * std::pow(10.0L, static_cast<long double>(*k));
  if (!std::isfinite(n.value)) return std::nullopt;
  return n;
}

bool numbers_close(long double a, long double b, double rel_tol) {
  long double scale = std::max(std::fabs(a), std::fabs(b));
  return std::fabs(a - b) <= static_cast<long double>(rel_tol) * scale;
}

// Math-Verify's numeric rule, applied to both sides alike: when either is a decimal, both are
// rounded to `places` decimals and compared; exact numbers must be equal (to long double
// precision for fractions). opt.rel_tol > 0 widens it.
bool numbers_equal(const Number& a, const Number& b, long double scale_b, const VerifyOptions& opt) {
  long double x = a.value, y = b.value * scale_b;
  if (opt.rel_tol > 0 && numbers_close(x, y, opt.rel_tol)) return true;
  long double mag = std::max(std::fabs(x), std::fabs(y));
  if (a.is_float || b.is_float) {
    if (mag > 1e12L) return std::fabs(x - y) <= 1e-15L * mag;
    long double f = std::pow(10.0L, opt.float_rounding);
    return std::llroundl(x * f) == std::llroundl(y * f);
  }
  if (a.is_integer && b.is_integer && scale_b == 1) return a.digits == b.digits;
  return std::fabs(x - y) <= 1e-15L * mag;
}

// ---- structure -----------------------------------------------------------------------------

// Updates depth for the character at s[i]: brackets of every kind open and close a level, and
// \{ / \} count as one bracket, in which case i steps past the brace and the result is true.
bool step_depth(const std::string& s, size_t& i, int& depth) {
  const char c = s[i];
  if (c == '\\' && i + 1 < s.size() && (s[i + 1] == '{' || s[i + 1] == '}')) {
    depth += s[i + 1] == '{' ? 1 : -1;
    ++i;
    return true;
  }
  if (c == '(' || c == '[' || c == '{') ++depth;
  if (c == ')' || c == ']' || c == '}') --depth;
  return false;
}

// Returns s split at top-level occurrences of sep (brackets of all kinds, \{ \} included, and
// intervals' mixed brackets count as nesting).
std::vector<std::string> split_top(const std::string& s, const std::string& sep) {
  std::vector<std::string> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (step_depth(s, i, depth)) continue;
    if (depth == 0 && s.compare(i, sep.size(), sep) == 0) {
      // "\cup" must not match inside a longer command; "=" must not be part of \leq etc.
      parts.push_back(s.substr(start, i - start));
      start = i + sep.size();
      i = start - 1;
    }
  }
  parts.push_back(s.substr(start));
  return parts;
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

// Returns true if the bracket at s[0] closes exactly at the end of s.
bool wrapped_whole(const std::string& s, size_t open_len) {
  int depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    step_depth(s, i, depth);
    if (depth == 0 && i + 1 < s.size() && i >= open_len - 1) return false;
  }
  return depth == 0;
}

enum class Kind { kScalar, kTuple, kSet, kList, kUnion, kMatrix };

struct Shape {
  Kind kind = Kind::kScalar;
  char open = 0, close = 0;
  std::vector<std::string> items;
};

Shape shape_of(const std::string& s) {
  Shape sh;
  for (const char* env : {"pmatrix", "bmatrix", "matrix", "vmatrix"}) {
    std::string b = std::string("\\begin{") + env + "}", e = std::string("\\end{") + env + "}";
    if (starts_with(s, b) && ends_with(s, e)) {
      sh.kind = Kind::kMatrix;
      std::string body = s.substr(b.size(), s.size() - b.size() - e.size());
      for (auto& row : split_top(body, "\\\\")) {
        if (row.empty()) continue;
        for (auto& cell : split_top(row, "&")) sh.items.push_back(cell);
        sh.items.push_back("\\\\");  // row marker, compared literally
      }
      return sh;
    }
  }
  auto unions = split_top(s, "\\cup");
  if (unions.size() > 1) {
    sh.kind = Kind::kUnion;
    sh.items = unions;
    return sh;
  }
  if (starts_with(s, "\\{") && ends_with(s, "\\}") && wrapped_whole(s, 2)) {
    sh.kind = Kind::kSet;
    sh.items = split_top(s.substr(2, s.size() - 4), ",");
    return sh;
  }
  if (s.size() >= 2 && (s[0] == '(' || s[0] == '[') && (s.back() == ')' || s.back() == ']') &&
      wrapped_whole(s, 1)) {
    auto items = split_top(s.substr(1, s.size() - 2), ",");
    if (items.size() >= 2) {
      sh.kind = Kind::kTuple;
      sh.open = s[0];
      sh.close = s.back();
      sh.items = items;
      return sh;
    }
  }
  auto items = split_top(s, ",");
  if (items.size() >= 2) {
    sh.kind = Kind::kList;
    sh.items = items;
    return sh;
  }
  // "a \pm b" is the list {a + b, a - b}.
  auto pm = split_top(s, "\\pm");
  if (pm.size() == 2 && !pm[1].empty() && !(is_alpha(pm[1][0]))) {
    sh.kind = Kind::kList;
    const std::string& l = pm[0];
    const std::string r = "(" + pm[1] + ")";
    sh.items = {l.empty() ? r : l + "+" + r, l + "-" + r};
  }
  return sh;
}

Equivalence not_equal(const std::string& by, const std::string& why) { return {false, by, why}; }

Equivalence compare_norm(const std::string& a, const std::string& b, const Ctx& ctx, int depth);

// Ordered element-wise comparison.
bool ordered_equal(const std::vector<std::string>& x, const std::vector<std::string>& y,
                   const Ctx& ctx, int depth, std::string* why) {
  if (x.size() != y.size()) {
    *why = "different number of elements";
    return false;
  }
  for (size_t i = 0; i < x.size(); ++i) {
    Equivalence e = compare_norm(x[i], y[i], ctx, depth + 1);
    if (!e.equal) {
      *why = "element " + std::to_string(i + 1) + " differs";
      return false;
    }
  }
  return true;
}

// Unordered (multiset) comparison: each gold element matched to a distinct predicted one.
bool unordered_equal(const std::vector<std::string>& x, const std::vector<std::string>& y,
                     const Ctx& ctx, int depth, std::string* why) {
  if (x.size() != y.size()) {
    *why = "different number of elements";
    return false;
  }
  std::vector<bool> used(y.size(), false);
  for (const auto& xi : x) {
    bool found = false;
    for (size_t j = 0; j < y.size() && !found; ++j) {
      if (used[j]) continue;
      if (compare_norm(xi, y[j], ctx, depth + 1).equal) {
        used[j] = true;
        found = true;
      }
    }
    if (!found) {
      *why = "element " + xi.substr(0, 40) + " has no match";
      return false;
    }
  }
  return true;
}

// Returns true and sets *rhs for an assignment whose left side is only names ("x=5", "f(x)=..",
// "y_1=3", "a+b=7"); with several '=' the right side is the text after the last one.
bool split_assignment(const std::string& s, std::string* rhs) {
  auto parts = split_top(s, "=");
  if (parts.size() < 2) return false;
  const std::string& lhs = parts[0];
  if (lhs.empty() || lhs.size() > 20) return false;
  bool letter = false, subscript = false;
  for (char c : lhs) {
    if (c == '_') subscript = true;
    if (is_alpha(c)) letter = true;
    if (is_digit(c) && !subscript) return false;
    if (!(is_alpha(c) || is_digit(c) || c == '_' || c == '\\' || c == '{' || c == '}' ||
          c == '(' || c == ')' || c == '+' || c == ' '))
      return false;
  }
  *rhs = parts.back();
  return letter && !rhs->empty();
}

// A chain of relations a op b op c (ops: <, >, \leq, \geq, \neq) at the top level.
struct Relation {
  std::vector<std::string> sides;
  std::vector<std::string> ops;
};

bool split_relation(const std::string& s, Relation* r) {
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (step_depth(s, i, depth)) continue;
    const char c = s[i];
    if (depth != 0) continue;
    std::string op;
    if (c == '<' || c == '>') {
      op = std::string(1, c);
    } else {
      for (const char* o : {"\\leq", "\\geq", "\\neq"}) {
        if (s.compare(i, 4, o) == 0 && !(i + 4 < s.size() && is_alpha(s[i + 4]))) op = o;
      }
    }
    if (op.empty()) continue;
    r->sides.push_back(s.substr(start, i - start));
    r->ops.push_back(op);
    start = i + op.size();
    i = start - 1;
  }
  if (r->ops.empty()) return false;
  r->sides.push_back(s.substr(start));
  for (auto& side : r->sides) {
    side = trim(side);
    if (side.empty()) return false;
  }
  return true;
}

bool is_variable(const std::string& s) {
  if (s.empty() || !is_alpha(s[0])) return false;
  if (s.size() == 1) return true;
  return s[1] == '_' && s.size() <= 6;
}

// Returns the interval a relation in one variable describes ("1<x\leq2" -> "(1,2]",
// "x\geq3" -> "[3,\infty)"), or "" when it is not of that form.
std::string relation_interval(const Relation& r) {
  auto lower = [](const std::string& op) { return op == "<" || op == "\\leq"; };
  auto upper = [](const std::string& op) { return op == ">" || op == "\\geq"; };
  auto strict = [](const std::string& op) { return op == "<" || op == ">"; };
  if (r.ops.size() == 1) {
    const std::string& op = r.ops[0];
    if (op == "\\neq") return "";
    std::string v, bound;
    bool below;  // the variable is below the bound
    if (is_variable(r.sides[0])) {
      bound = r.sides[1];
      below = lower(op);
    } else if (is_variable(r.sides[1])) {
      bound = r.sides[0];
      below = upper(op);
    } else {
      return "";
    }
    if (below) return "(-\\infty," + bound + (strict(op) ? ")" : "]");
    return (strict(op) ? "(" : "[") + bound + ",\\infty)";
  }
  if (r.ops.size() == 2 && is_variable(r.sides[1])) {
    const std::string &o1 = r.ops[0], &o2 = r.ops[1];
    if (lower(o1) && lower(o2))
      return (strict(o1) ? "(" : "[") + r.sides[0] + "," + r.sides[2] + (strict(o2) ? ")" : "]");
    if (upper(o1) && upper(o2))
      return (strict(o2) ? "(" : "[") + r.sides[2] + "," + r.sides[0] + (strict(o1) ? ")" : "]");
  }
  return "";
}

Equivalence compare_relations(const Relation& ra, const Relation& rb, const Ctx& ctx, int depth) {
  std::string ia = relation_interval(ra), ib = relation_interval(rb);
  if (!ia.empty() && !ib.empty()) {
    Equivalence e = compare_norm(ia, ib, ctx, depth + 1);
    if (e.equal) e.decided_by = "relation";
    return e;
  }
  if (ra.ops.size() != 1 || rb.ops.size() != 1)
    return not_equal("relation", "relation chains differ");
  // Orient both to < / \leq (or \neq); then lhs - rhs must agree (for \neq: up to sign).
  auto orient = [](const Relation& r, std::string* op) {
    *op = r.ops[0];
    std::string l = r.sides[0], rr = r.sides[1];
    if (*op == ">" || *op == "\\geq") {
      std::swap(l, rr);
      *op = *op == ">" ? "<" : "\\leq";
    }
    return "(" + l + ")-(" + rr + ")";
  };
  std::string oa, ob;
  std::string da = orient(ra, &oa), db = orient(rb, &ob);
  if (oa != ob) return not_equal("relation", "different relations");
  SymbolicOutcome o = latex_equal(da, db, symbolic_tol(ctx.opt), ctx.deadline);
  if (o.equal != Tri::kTrue && oa == "\\neq")
    o = latex_equal(da, "-(" + db + ")", symbolic_tol(ctx.opt), ctx.deadline);
  if (o.equal == Tri::kTrue) return {true, "relation", ""};
  return not_equal("relation", o.reason.empty() ? "relations differ" : o.reason);
}

bool has_top_comma(const std::string& s) { return split_top(s, ",").size() > 1; }

// Returns the items with equivalent repeats dropped (a set's elements are distinct: "\boxed{
// 15\frac{39}{40}} = \boxed{\frac{639}{40}}" is one value). Lists beyond 20 items are kept as
// they are, to bound the quadratic cost.
std::vector<std::string> distinct_items(const std::vector<std::string>& items, const Ctx& ctx,
                                        int depth) {
  if (items.size() < 2 || items.size() > 20) return items;
  std::vector<std::string> out;
  for (const auto& it : items) {
    bool seen = false;
    for (const auto& o : out) seen = seen || compare_norm(o, it, ctx, depth + 1).equal;
    if (!seen) out.push_back(it);
  }
  return out;
}

Equivalence compare_norm(const std::string& a_in, const std::string& b_in, const Ctx& ctx,
                         int depth) {
  std::string a = a_in, b = b_in;
  if (a.size() > 1 && a[0] == '+') a = a.substr(1);
  if (b.size() > 1 && b[0] == '+') b = b.substr(1);
  if (a == b) return {true, "exact", ""};
  if (b.empty()) return not_equal("", "empty answer");
  if (depth > kMaxDepth) return not_equal("", "nesting deeper than the cap");
  if (Clock::now() > ctx.deadline) return not_equal("", "time budget exceeded");

  // "x \in S": the set S.
  for (std::string* side : {&a, &b}) {
    size_t p = side->find("\\in");
    if (p != std::string::npos && p > 0 && p <= 4 &&
        !(p + 3 < side->size() && is_alpha((*side)[p + 3])) && is_variable(side->substr(0, p))) {
      *side = side->substr(p + 3);
      return compare_norm(a, b, ctx, depth + 1);
    }
  }

  // Assignments (Math-Verify's unwrap): a predicted equation against a value is its last right
  // side ("x=2+1=3" -> 3, "3=x" -> x); a gold assignment "x=5" against a value is its value.
  bool a_eq = !has_top_comma(a) && split_top(a, "=").size() > 1;
  bool b_eq = !has_top_comma(b) && split_top(b, "=").size() > 1;
  std::string rhs;
  if (b_eq && !a_eq) return compare_norm(a, split_top(b, "=").back(), ctx, depth + 1);
  if (a_eq && !b_eq && split_assignment(a, &rhs)) return compare_norm(rhs, b, ctx, depth + 1);

  // Relations: against each other, or a one-variable relation against an interval.
  Relation ra, rb;
  bool a_rel = !has_top_comma(a) && split_relation(a, &ra);
  bool b_rel = !has_top_comma(b) && split_relation(b, &rb);
  if (a_rel && b_rel) return compare_relations(ra, rb, ctx, depth);
  if (a_rel || b_rel) {
    std::string iv = relation_interval(a_rel ? ra : rb);
    const std::string& other = a_rel ? b : a;
    bool interval_like = !other.empty() && (other[0] == '(' || other[0] == '[') &&
                         (other.back() == ')' || other.back() == ']');
    if (!iv.empty() && (interval_like || other.find("\\cup") != std::string::npos)) {
      Equivalence e = a_rel ? compare_norm(iv, b, ctx, depth + 1) : compare_norm(a, iv, ctx, depth + 1);
      if (e.equal) e.decided_by = "relation";
      return e;
    }
    return not_equal("relation", "a relation against a value");
  }

  // Numbers.
  auto na = parse_number(a), nb = parse_number(b);
  if (na && nb) {
    if (numbers_equal(*na, *nb, 1, ctx.opt)) return {true, "numeric", ""};
    if (depth == 0 && ctx.gold_percent && numbers_equal(*na, *nb, 100, ctx.opt))
      return {true, "numeric", ""};
    if (depth == 0 && ctx.pred_percent && numbers_equal(*na, *nb, 0.01L, ctx.opt))
      return {true, "numeric", ""};
    return not_equal("numeric", na->is_integer && nb->is_integer ? "different integers"
                                                                 : "numbers differ");
  }

  // Tuples, sets, intervals, matrices.
  Shape sa = shape_of(a), sb = shape_of(b);
  for (Shape* sh : {&sa, &sb}) {
    if (sh->kind == Kind::kSet || sh->kind == Kind::kList) {
      sh->items = distinct_items(sh->items, ctx, depth);
      if (sh->items.size() == 1) sh->kind = Kind::kSet;
    }
  }
  if (sa.kind == Kind::kSet && sa.items.size() == 1 && sb.kind == Kind::kScalar)
    return compare_norm(sa.items[0], b, ctx, depth + 1);
  if (sb.kind == Kind::kSet && sb.items.size() == 1 && sa.kind == Kind::kScalar)
    return compare_norm(a, sb.items[0], ctx, depth + 1);
  if (sa.kind != Kind::kScalar || sb.kind != Kind::kScalar) {
    if (sa.items.size() > kMaxElements || sb.items.size() > kMaxElements)
      return not_equal("", "too many elements");
    std::string why;
    auto setlike = [](Kind k) { return k == Kind::kSet || k == Kind::kList; };
    auto open_pair = [](const Shape& sh) {
      return sh.kind == Kind::kTuple && sh.open == '(' && sh.close == ')';
    };
    if (setlike(sa.kind) && setlike(sb.kind)) {
      if (unordered_equal(sa.items, sb.items, ctx, depth, &why)) return {true, "set", ""};
      return not_equal("set", why);
    }
    if (sa.kind == Kind::kTuple && sb.kind == Kind::kTuple) {
      bool interval = sa.open != '(' || sa.close != ')' || sb.open != '(' || sb.close != ')';
      std::string by = interval ? "interval" : "tuple";
      if (sa.open != sb.open || sa.close != sb.close)
        return not_equal(by, "different brackets (open / closed ends)");
      if (ordered_equal(sa.items, sb.items, ctx, depth, &why)) return {true, by, ""};
      return not_equal(by, why);
    }
    if (sa.kind == Kind::kUnion && sb.kind == Kind::kUnion) {
      if (unordered_equal(sa.items, sb.items, ctx, depth, &why)) return {true, "interval", ""};
      return not_equal("interval", why);
    }
    if (sa.kind == Kind::kMatrix && sb.kind == Kind::kMatrix) {
      if (ordered_equal(sa.items, sb.items, ctx, depth, &why)) return {true, "matrix", ""};
      return not_equal("matrix", why);
    }
    // "(1,2)" answered as "1, 2": the written order still matters.
    if ((open_pair(sa) && sb.kind == Kind::kList) || (sa.kind == Kind::kList && open_pair(sb))) {
      if (ordered_equal(sa.items, sb.items, ctx, depth, &why)) return {true, "tuple", ""};
      return not_equal("tuple", why);
    }
    // "\{1,2\}" against "(1,2)": Math-Verify reads the pair as a finite set.
    if ((open_pair(sa) && sb.kind == Kind::kSet) || (sa.kind == Kind::kSet && open_pair(sb))) {
      if (unordered_equal(sa.items, sb.items, ctx, depth, &why)) return {true, "set", ""};
      return not_equal("set", why);
    }
    if (setlike(sa.kind) != setlike(sb.kind) && (sa.kind == Kind::kScalar || sb.kind == Kind::kScalar))
      return not_equal("set", "a list of answers against a single answer");
    return not_equal("", "different kinds of answer (tuple / set / interval / scalar)");
  }

  if (a.size() > kMaxSymbolicLen || b.size() > kMaxSymbolicLen)
    return not_equal("", "answer longer than the symbolic length cap");

  // Equations.
  if (a_eq || b_eq) {
    auto pa = split_top(a, "="), pb = split_top(b, "=");
    if (pa.size() != 2 || pb.size() != 2) return not_equal("equation", "not comparable equations");
    SymbolicOutcome o = latex_equations_equal(pa[0], pa[1], pb[0], pb[1], symbolic_tol(ctx.opt),
                                              ctx.deadline);
    if (o.equal == Tri::kTrue) return {true, "equation", ""};
    return not_equal("equation", o.reason);
  }

  // Symbolic.
  const double tol = symbolic_tol(ctx.opt);
  const int places = ctx.opt.float_rounding;
  SymbolicOutcome o = latex_equal(a, b, tol, ctx.deadline, {}, places);
  if (o.equal == Tri::kTrue) return {true, "symbolic", ""};
  if (o.equal == Tri::kFalse && depth == 0) {
    SymbolicOutcome p = {Tri::kFalse, ""};
    if (ctx.gold_percent) p = latex_equal(a, "100(" + b + ")", tol, ctx.deadline, {}, places);
    if (p.equal != Tri::kTrue && ctx.pred_percent)
      p = latex_equal("100(" + a + ")", b, tol, ctx.deadline, {}, places);
    if (p.equal == Tri::kTrue) return {true, "symbolic", ""};
  }
  return not_equal(o.equal == Tri::kFalse ? "symbolic" : "", o.reason);
}

}  // namespace

Equivalence compare_answers(const std::string& gold, const std::string& pred,
                            const VerifyOptions& opt) {
  try {
    if (gold.size() > opt.max_input || pred.size() > opt.max_input)
      return not_equal("", "answer longer than max_input");
    if (pred.size() > kMaxAnswerLen || gold.size() > kMaxAnswerLen)
      return not_equal("", "answer longer than " + std::to_string(kMaxAnswerLen) + " characters");
    Ctx ctx{opt, Clock::now() + std::chrono::milliseconds(opt.max_ms), mentions_percent(gold),
            mentions_percent(pred)};
    std::string a = normalize_answer(gold), b = normalize_answer(pred);
    if (b.empty()) return not_equal("", "empty answer");
    return compare_norm(a, b, ctx, 0);
  } catch (const std::exception& e) {
    return not_equal("", std::string("internal error: ") + e.what());
  }
}

bool answers_equivalent(const std::string& gold, const std::string& pred,
                        const VerifyOptions& opt, std::string* decided_by) {
  Equivalence e = compare_answers(gold, pred, opt);
  if (decided_by) *decided_by = e.decided_by;
  return e.equal;
}

VerifyResult verify(const std::string& response, const std::string& gold,
                    const VerifyOptions& opt) {
  VerifyResult r;
  if (response.size() > opt.max_input) {
    r.verdict = Verdict::kIncorrect;
    r.reason = "response longer than max_input (" + std::to_string(response.size()) + " > " +
               std::to_string(opt.max_input) + " bytes)";
    return r;
  }
  if (gold.size() > opt.max_input) {
    r.verdict = Verdict::kIncorrect;
    r.reason = "gold longer than max_input";
    return r;
  }
  r.extracted = extract_answer(response, opt.extraction, opt.allow_last_number);
  if (r.extracted.rule == ExtractRule::kNone) {
    r.verdict = Verdict::kNoAnswer;
    r.reason = opt.extraction == ExtractMode::kBoxed ? "no boxed answer found" : "no answer found";
    return r;
  }
  Extraction g = extract_gold(gold);
  if (g.rule == ExtractRule::kNone) {
    r.verdict = Verdict::kIncorrect;
    r.reason = "empty gold answer";
    return r;
  }
  Equivalence e = compare_answers(g.answer, r.extracted.answer, opt);
  r.verdict = e.equal ? Verdict::kCorrect : Verdict::kIncorrect;
  r.decided_by = e.decided_by;
  r.reason = e.equal ? "" : e.reason;
  return r;
}

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kCorrect: return "correct";
    case Verdict::kIncorrect: return "incorrect";
    case Verdict::kNoAnswer: return "no_answer";
  }
  return "no_answer";
}

}  // namespace popo
