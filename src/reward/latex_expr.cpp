// LaTeX subset -> GiNaC ex, and symbolic comparison; see latex_expr.h. The parser works on the
// normalised answer (math_normalize.h), so \left, \dfrac and spacing commands are already gone.
#include "reward/latex_expr.h"

#include <ginac/ginac.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace popo {

namespace {

// GiNaC keeps global state (reference counts without atomics, static caches): one lock for all.
std::mutex& ginac_mutex() {
  static std::mutex m;
  return m;
}

struct Refusal : std::runtime_error {
  using std::runtime_error::runtime_error;
};

bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

using SymbolTable = std::map<std::string, GiNaC::symbol>;

// Returns the number of nodes of e, stopping early once cap is passed.
size_t count_nodes(const GiNaC::ex& e, size_t cap) {
  size_t n = 1;
  for (size_t i = 0; i < e.nops() && n <= cap; ++i) n += count_nodes(e.op(i), cap - n);
  return n;
}

class Parser {
 public:
  Parser(const std::string& s, SymbolTable& syms, const LatexLimits& lim)
      : s_(s), syms_(syms), lim_(lim) {}

  GiNaC::ex parse_all() {
    if (s_.size() > lim_.max_length) throw Refusal("expression longer than the length cap");
    GiNaC::ex e = expr();
    skip_ws();
    if (pos_ != s_.size()) throw Refusal("unexpected '" + s_.substr(pos_, 12) + "'");
    if (count_nodes(e, lim_.max_nodes) > lim_.max_nodes) throw Refusal("expression too large");
    return e;
  }

 private:
  struct DepthGuard {
    Parser& p;
    explicit DepthGuard(Parser& p_) : p(p_) {
      if (++p.depth_ > p.lim_.max_depth) throw Refusal("nesting deeper than the depth cap");
    }
    ~DepthGuard() { --p.depth_; }
  };

  void skip_ws() {
    while (pos_ < s_.size() && s_[pos_] == ' ') ++pos_;
  }
  bool eat(char c) {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  // Returns the command name at pos (without backslash) or "" if not at a command.
  std::string peek_command() {
    skip_ws();
    if (pos_ >= s_.size() || s_[pos_] != '\\') return "";
    size_t j = pos_ + 1;
    while (j < s_.size() && is_alpha(s_[j])) ++j;
    if (j == pos_ + 1 && j < s_.size()) return std::string(1, s_[j]);  // \{ \, ...
    return s_.substr(pos_ + 1, j - pos_ - 1);
  }
  bool eat_command(const std::string& name) {
    if (peek_command() != name) return false;
    pos_ += 1 + name.size();
    return true;
  }

  static bool is_function(const std::string& c) {
    static const char* kFns[] = {"sin",    "cos",    "tan",    "cot",  "sec",  "csc",
                                 "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
                                 "ln",     "log",    "exp"};
    for (const char* f : kFns)
      if (c == f) return true;
    return false;
  }
  bool starts_primary() {
    skip_ws();
    if (pos_ >= s_.size()) return false;
    char c = s_[pos_];
    if (is_digit(c) || c == '.' || is_alpha(c) || c == '(' || c == '{') return true;
    if (c == '\\') {
      std::string cmd = peek_command();
      return cmd == "frac" || cmd == "sqrt" || cmd == "pi" || cmd == "binom" || cmd == "dbinom" ||
             cmd == "tbinom" || is_function(cmd);
    }
    return false;
  }

  GiNaC::ex expr() {
    DepthGuard g(*this);
    GiNaC::ex r = term();
    while (true) {
      if (eat('+')) {
        r = r + term();
      } else if (eat('-')) {
        r = r - term();
      } else {
        std::string c = peek_command();
        if (c == "pm" || c == "mp") throw Refusal("\\pm is not a single value");
        return r;
      }
    }
  }

  GiNaC::ex term() {
    GiNaC::ex r = unary();
    while (true) {
      if (eat('*') || eat_command("cdot") || eat_command("times")) {
        r = r * unary();
      } else if (eat('/') || eat_command("div")) {
        GiNaC::ex d = unary();
        if (d.is_zero()) throw Refusal("division by zero");
        r = r / d;
      } else if (starts_primary()) {
        // "2\frac{1}{2}" is the mixed number 5/2 (Math-Verify), "2\frac{x}{3}" a product.
        bool integer_left = GiNaC::is_a<GiNaC::numeric>(r) && GiNaC::ex_to<GiNaC::numeric>(r).is_integer();
        bool frac_next = peek_command() == "frac";
        GiNaC::ex f = power();
        bool mixed = integer_left && frac_next && GiNaC::is_a<GiNaC::numeric>(f) &&
                     GiNaC::ex_to<GiNaC::numeric>(f).is_rational() &&
                     !GiNaC::ex_to<GiNaC::numeric>(f).is_integer() &&
                     GiNaC::ex_to<GiNaC::numeric>(f).is_positive();
        r = mixed ? (GiNaC::ex_to<GiNaC::numeric>(r).is_negative() ? r - f : r + f) : r * f;
      } else {
        return r;
      }
    }
  }

  GiNaC::ex unary() {
    DepthGuard g(*this);
    if (eat('-')) return -unary();
    if (eat('+')) return unary();
    return power();
  }

  GiNaC::ex power() {
    GiNaC::ex base = postfix();
    while (true) {
      skip_ws();
      if (s_.compare(pos_, 2, "**") == 0) {  // Python-style power
        pos_ += 2;
        base = make_pow(base, unary());
      } else if (eat('^')) {
        base = make_pow(base, exponent_arg());
      } else {
        break;
      }
    }
    return base;
  }

  // The argument of ^ or of a one-argument command: {expr}, or one digit, letter or command.
  GiNaC::ex exponent_arg() {
    DepthGuard g(*this);
    skip_ws();
    if (eat('{')) {
      GiNaC::ex e = expr();
      if (!eat('}')) throw Refusal("missing '}'");
      return e;
    }
    if (eat('-')) return -exponent_arg();
    if (pos_ < s_.size() && is_digit(s_[pos_])) return GiNaC::numeric(s_[pos_++] - '0');
    return primary();
  }

  GiNaC::ex make_pow(const GiNaC::ex& b, const GiNaC::ex& e) {
    if (GiNaC::is_a<GiNaC::numeric>(e)) {
      GiNaC::numeric n = GiNaC::ex_to<GiNaC::numeric>(e);
      if (n.is_rational()) {
        GiNaC::numeric num = GiNaC::abs(n.numer());
        bool base_numeric = GiNaC::is_a<GiNaC::numeric>(b);
        long cap = base_numeric ? lim_.max_int_exponent : lim_.max_symbolic_exponent;
        if (num > GiNaC::numeric(cap) || GiNaC::abs(n.denom()) > GiNaC::numeric(1000))
          throw Refusal("exponent too large");
        if (base_numeric) {
          GiNaC::numeric bn = GiNaC::ex_to<GiNaC::numeric>(b);
          if (bn.is_rational() && !bn.is_zero()) {
            double digits = (std::log10(std::max(1.0, GiNaC::abs(bn.numer()).to_double())) +
                             std::log10(std::max(1.0, GiNaC::abs(bn.denom()).to_double()))) *
                            num.to_double();
            if (!(digits <= lim_.max_result_digits)) throw Refusal("power too large");
          }
        }
      } else if (GiNaC::abs(n) > GiNaC::numeric(1000)) {
        throw Refusal("exponent too large");
      }
    } else if (GiNaC::is_a<GiNaC::numeric>(GiNaC::evalf(e))) {
      // Symbolic constant exponent (e.g. 2^{\sqrt{2}}, 10^{10^{\pi}}): bound its size.
      GiNaC::numeric v = GiNaC::ex_to<GiNaC::numeric>(GiNaC::evalf(e));
      if (GiNaC::abs(v) > GiNaC::numeric(1000)) throw Refusal("exponent too large");
    }
    // 0 to a power that is not a positive number: a pole (0^{-9}) or, symbolic (0^{-q}), one at
    // the values the numeric comparison substitutes. GiNaC throws its pole_error from inside
    // the power's constructor or subs() and leaks the half-built objects (found by
    // fuzz/fuzz_verifier), so refuse it before.
    if (b.is_zero() && !(GiNaC::is_a<GiNaC::numeric>(e) && GiNaC::ex_to<GiNaC::numeric>(e).is_positive()))
      throw Refusal("zero to a power that is not a positive number");
    return GiNaC::pow(b, e);
  }

  // 1/d, refusing d = 0 (the pole GiNaC would throw from a leaking constructor, as above).
  static GiNaC::ex inverse(const GiNaC::ex& d) {
    if (d.is_zero()) throw Refusal("division by zero");
    return GiNaC::pow(d, -1);
  }

  // log(a), refusing log(0) (a pole, as above).
  static GiNaC::ex log_of(const GiNaC::ex& a) {
    if (a.is_zero()) throw Refusal("log of zero");
    return GiNaC::log(a);
  }

  GiNaC::ex postfix() {
    GiNaC::ex p = primary();
    while (eat('!')) {
      if (!GiNaC::is_a<GiNaC::numeric>(p) || !GiNaC::ex_to<GiNaC::numeric>(p).is_nonneg_integer() ||
          GiNaC::ex_to<GiNaC::numeric>(p) > GiNaC::numeric(500))
        throw Refusal("factorial of a non-integer or too large value");
      p = GiNaC::factorial(p);
    }
    return p;
  }

  GiNaC::ex number() {
    size_t b = pos_;
    std::string digits;
    while (pos_ < s_.size() && is_digit(s_[pos_])) digits += s_[pos_++];
    std::string frac;
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      while (pos_ < s_.size() && is_digit(s_[pos_])) frac += s_[pos_++];
    }
    if (digits.empty() && frac.empty()) throw Refusal("bad number");
    long exp10 = 0;
    // 4.5e33 / 4.5E-3 (only when digits follow, so "2e" stays 2*e)
    if (pos_ + 1 < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      size_t j = pos_ + 1;
      bool neg = false;
      if (j < s_.size() && (s_[j] == '-' || s_[j] == '+')) neg = s_[j++] == '-';
      if (j < s_.size() && is_digit(s_[j])) {
        std::string ed;
        while (j < s_.size() && is_digit(s_[j])) ed += s_[j++];
        if (ed.size() > 5) throw Refusal("exponent too large");
        exp10 = std::stol(ed) * (neg ? -1 : 1);
        if (std::labs(exp10) > lim_.max_int_exponent) throw Refusal("exponent too large");
        pos_ = j;
      }
    }
    if (pos_ - b > 1000) throw Refusal("number too long");
    std::string all = digits + frac;
    size_t z = 0;
    while (z + 1 < all.size() && all[z] == '0') ++z;
    GiNaC::numeric v(all.substr(z).c_str());
    long scale = exp10 - static_cast<long>(frac.size());
    GiNaC::numeric ten(10);
    if (scale > 0) v = v * ten.power(scale);
    if (scale < 0) v = v / ten.power(-scale);
    return v;
  }

  GiNaC::ex variable() {
    std::string name(1, static_cast<char>(std::tolower(static_cast<unsigned char>(s_[pos_++]))));
    if (pos_ < s_.size() && s_[pos_] == '_') {  // x_1, x_{12}
      ++pos_;
      if (pos_ < s_.size() && s_[pos_] == '{') {
        size_t close = s_.find('}', pos_);
        if (close == std::string::npos) throw Refusal("missing '}'");
        name += "_" + s_.substr(pos_ + 1, close - pos_ - 1);
        pos_ = close + 1;
      } else if (pos_ < s_.size()) {
        name += "_" + std::string(1, s_[pos_++]);
      }
    } else if (name == "e") {
      return GiNaC::exp(GiNaC::ex(1));
    } else if (name == "i") {
      return GiNaC::I;
    }
    auto it = syms_.find(name);
    if (it == syms_.end()) it = syms_.emplace(name, GiNaC::symbol(name)).first;
    return it->second;
  }

  GiNaC::ex group_arg() {  // {expr} or a single token
    return exponent_arg();
  }

  GiNaC::ex function(const std::string& f) {
    GiNaC::ex pw = 1;
    bool has_pw = false;
    GiNaC::ex log_base = 0;
    bool has_base = false;
    for (int k = 0; k < 2; ++k) {
      if (eat('^')) {
        pw = exponent_arg();
        has_pw = true;
      } else if (f == "log" && eat('_')) {
        log_base = exponent_arg();
        has_base = true;
      }
    }
    GiNaC::ex arg;
    skip_ws();
    if (eat('(')) {
      arg = expr();
      if (!eat(')')) throw Refusal("missing ')'");
    } else {
      arg = power();
    }
    GiNaC::ex r;
    if (f == "sin") r = GiNaC::sin(arg);
    else if (f == "cos") r = GiNaC::cos(arg);
    else if (f == "tan") r = GiNaC::tan(arg);
    else if (f == "cot") r = inverse(GiNaC::tan(arg));
    else if (f == "sec") r = inverse(GiNaC::cos(arg));
    else if (f == "csc") r = inverse(GiNaC::sin(arg));
    else if (f == "arcsin") r = GiNaC::asin(arg);
    else if (f == "arccos") r = GiNaC::acos(arg);
    else if (f == "arctan") r = GiNaC::atan(arg);
    else if (f == "sinh") r = GiNaC::sinh(arg);
    else if (f == "cosh") r = GiNaC::cosh(arg);
    else if (f == "tanh") r = GiNaC::tanh(arg);
    else if (f == "exp") r = GiNaC::exp(arg);
    else r = log_of(arg);  // ln, log (natural log when no base is given)
    if (has_base) r = r * inverse(log_of(log_base));
    if (has_pw) r = make_pow(r, pw);
    return r;
  }

  GiNaC::ex primary() {
    DepthGuard g(*this);
    skip_ws();
    if (pos_ >= s_.size()) throw Refusal("unexpected end");
    char c = s_[pos_];
    if (is_digit(c) || c == '.') return number();
    if (is_alpha(c)) {
      // Bare function words written without a backslash: sqrt(2), sin x, ln 5, pi.
      for (const char* w : {"sqrt", "arcsin", "arccos", "arctan", "sin", "cos", "tan", "ln",
                            "log", "exp", "pi"}) {
        size_t n = std::char_traits<char>::length(w);
        if (s_.compare(pos_, n, w) == 0 && !(pos_ + n < s_.size() && is_alpha(s_[pos_ + n]))) {
          pos_ += n;
          std::string cmd = w;
          if (cmd == "pi") return GiNaC::Pi;
          if (cmd == "sqrt") return GiNaC::sqrt(group_arg());
          return function(cmd);
        }
      }
      return variable();
    }
    if (c == '(' || c == '[' || c == '{') {
      char close = c == '(' ? ')' : c == '[' ? ']' : '}';
      ++pos_;
      GiNaC::ex e = expr();
      if (!eat(close)) throw Refusal(std::string("missing '") + close + "'");
      return e;
    }
    if (c == '|') {
      ++pos_;
      GiNaC::ex e = expr();
      if (!eat('|')) throw Refusal("missing '|'");
      return GiNaC::abs(e);
    }
    if (c == '\\') {
      std::string cmd = peek_command();
      pos_ += 1 + cmd.size();
      if (cmd == "frac") {
        GiNaC::ex n = group_arg();
        GiNaC::ex d = group_arg();
        if (d.is_zero()) throw Refusal("division by zero");
        return n / d;
      }
      if (cmd == "sqrt") {
        if (eat('[')) {
          GiNaC::ex idx = expr();
          if (!eat(']')) throw Refusal("missing ']'");
          GiNaC::ex a = group_arg();
          if (idx.is_zero()) throw Refusal("zeroth root");
          return make_pow(a, 1 / idx);
        }
        return GiNaC::sqrt(group_arg());
      }
      if (cmd == "pi") return GiNaC::Pi;
      if (cmd == "binom" || cmd == "dbinom" || cmd == "tbinom") {  // C(n, k) of integers only
        GiNaC::ex n = group_arg();
        GiNaC::ex k = group_arg();
        if (!GiNaC::is_a<GiNaC::numeric>(n) || !GiNaC::is_a<GiNaC::numeric>(k) ||
            !GiNaC::ex_to<GiNaC::numeric>(n).is_nonneg_integer() ||
            !GiNaC::ex_to<GiNaC::numeric>(k).is_nonneg_integer() ||
            GiNaC::ex_to<GiNaC::numeric>(n) > GiNaC::numeric(2000))
          throw Refusal("\\binom of non-integers or beyond 2000");
        return GiNaC::binomial(GiNaC::ex_to<GiNaC::numeric>(n), GiNaC::ex_to<GiNaC::numeric>(k));
      }
      if (is_function(cmd)) return function(cmd);
      throw Refusal("unsupported command \\" + cmd);
    }
    throw Refusal(std::string("unexpected '") + c + "'");
  }

  const std::string& s_;
  SymbolTable& syms_;
  const LatexLimits& lim_;
  size_t pos_ = 0;
  int depth_ = 0;
};

// Deterministic sample values for free symbols (distinct, nonzero, not special).
const double kPoints[] = {0.5377, 1.8339, -2.2588, 0.8622, 0.3188, -1.3077, 2.7694, -0.4336};
constexpr int kNumPoints = 6;

// Returns e with symbols replaced by the values of point k, evaluated to a float, or nullopt.
std::optional<GiNaC::numeric> eval_at(const GiNaC::ex& e, const SymbolTable& syms, int k) {
  GiNaC::exmap m;
  int j = 0;
  for (const auto& kv : syms) {
    m[kv.second] = GiNaC::numeric(kPoints[(k + 3 * j) % 8] + 0.1 * j);
    ++j;
  }
  GiNaC::ex v = GiNaC::evalf(m.empty() ? e : e.subs(m));
  if (!GiNaC::is_a<GiNaC::numeric>(v)) return std::nullopt;
  return GiNaC::ex_to<GiNaC::numeric>(v);
}

bool close_enough(const GiNaC::numeric& a, const GiNaC::numeric& b, double rel_tol) {
  GiNaC::numeric diff = GiNaC::abs(a - b);
  GiNaC::numeric aa = GiNaC::abs(a), ab = GiNaC::abs(b);
  GiNaC::numeric scale = aa > ab ? aa : ab;
  return diff <= GiNaC::numeric(rel_tol) * scale + GiNaC::numeric(1e-12);
}

SymbolicOutcome unknown(const std::string& why) { return {Tri::kUnknown, why}; }

// Returns true if s has a number written with a decimal point (a float in Math-Verify's terms).
bool has_decimal(const std::string& s) {
  for (size_t i = 0; i + 1 < s.size(); ++i)
    if (s[i] == '.' && is_digit(s[i + 1])) return true;
  return false;
}

// Returns true if x and y agree after rounding both to `places` decimals (beyond 1e12 in
// magnitude, where doubles cannot hold the places, to 12 significant digits).
bool rounded_equal(double x, double y, int places) {
  double scale = std::max(std::fabs(x), std::fabs(y));
  if (!std::isfinite(x) || !std::isfinite(y)) return x == y;
  if (scale > 1e12) return std::fabs(x - y) <= 1e-12 * scale;
  double f = std::pow(10.0, places);
  return std::llround(x * f) == std::llround(y * f);
}

// Compares two parsed constant expressions (no free symbols) by their values.
SymbolicOutcome compare_constants(const GiNaC::ex& a, const GiNaC::ex& b, bool use_rounding,
                                  int places) {
  GiNaC::ex va = GiNaC::evalf(a), vb = GiNaC::evalf(b);
  if (!GiNaC::is_a<GiNaC::numeric>(va) || !GiNaC::is_a<GiNaC::numeric>(vb))
    return unknown("could not evaluate to a number");
  GiNaC::numeric na = GiNaC::ex_to<GiNaC::numeric>(va), nb = GiNaC::ex_to<GiNaC::numeric>(vb);
  bool eq;
  if (use_rounding) {
    eq = rounded_equal(na.real().to_double(), nb.real().to_double(), places) &&
         rounded_equal(na.imag().to_double(), nb.imag().to_double(), places);
  } else {
    GiNaC::numeric diff = GiNaC::abs(na - nb);
    GiNaC::numeric scale = GiNaC::abs(na) > GiNaC::abs(nb) ? GiNaC::abs(na) : GiNaC::abs(nb);
    eq = diff <= GiNaC::numeric(1e-12) * scale + GiNaC::numeric(1e-15);
  }
  if (eq) return {Tri::kTrue, use_rounding ? "equal after rounding" : "equal values"};
  return {Tri::kFalse, use_rounding ? "values differ after rounding" : "values differ"};
}

// Compares two parsed expressions; the caller holds the lock.
SymbolicOutcome compare_parsed(const GiNaC::ex& a, const GiNaC::ex& b, const SymbolTable& syms,
                               double rel_tol, std::chrono::steady_clock::time_point deadline) {
  GiNaC::ex d = a - b;
  if (d.is_zero()) return {Tri::kTrue, "difference is 0"};
  int valid = 0;
  int points = syms.empty() ? 1 : kNumPoints;
  for (int k = 0; k < points; ++k) {
    if (std::chrono::steady_clock::now() > deadline) return unknown("time budget exceeded");
    try {
      auto va = eval_at(a, syms, k);
      auto vb = eval_at(b, syms, k);
      if (!va || !vb) continue;
      if (!close_enough(*va, *vb, rel_tol))
        return {Tri::kFalse, "values differ at a sample point"};
      ++valid;
    } catch (const std::exception&) {
      continue;  // pole or domain error at this point: try the next one
    }
  }
  if (valid >= (syms.empty() ? 1 : 3)) return {Tri::kTrue, "equal at sample points"};
  return unknown("could not evaluate at enough points");
}

}  // namespace

SymbolicOutcome latex_equal(const std::string& a, const std::string& b, double rel_tol,
                            std::chrono::steady_clock::time_point deadline,
                            const LatexLimits& limits, int float_rounding) {
  std::lock_guard<std::mutex> lock(ginac_mutex());
  try {
    SymbolTable syms;
    GiNaC::ex ea = Parser(a, syms, limits).parse_all();
    GiNaC::ex eb = Parser(b, syms, limits).parse_all();
    if (syms.empty() && float_rounding >= 0) {
      if ((ea - eb).is_zero()) return {Tri::kTrue, "difference is 0"};
      return compare_constants(ea, eb, has_decimal(a) || has_decimal(b), float_rounding);
    }
    return compare_parsed(ea, eb, syms, rel_tol, deadline);
  } catch (const Refusal& e) {
    return unknown(e.what());
  } catch (const std::exception& e) {
    return unknown(std::string("evaluation error: ") + e.what());
  }
}

SymbolicOutcome latex_equations_equal(const std::string& la, const std::string& ra,
                                      const std::string& lb, const std::string& rb,
                                      double rel_tol,
                                      std::chrono::steady_clock::time_point deadline,
                                      const LatexLimits& limits) {
  std::lock_guard<std::mutex> lock(ginac_mutex());
  try {
    SymbolTable syms;
    GiNaC::ex l1 = Parser(la, syms, limits).parse_all();
    GiNaC::ex r1 = Parser(ra, syms, limits).parse_all();
    GiNaC::ex l2 = Parser(lb, syms, limits).parse_all();
    GiNaC::ex r2 = Parser(rb, syms, limits).parse_all();
    GiNaC::ex f = l1 - r1, g = l2 - r2;
    if ((f - g).is_zero() || (f + g).is_zero()) return {Tri::kTrue, "same equation"};
    // f / g must be the same nonzero constant at every sample point.
    std::optional<GiNaC::numeric> ratio;
    int valid = 0;
    for (int k = 0; k < kNumPoints; ++k) {
      if (std::chrono::steady_clock::now() > deadline) return unknown("time budget exceeded");
      try {
        auto vf = eval_at(f, syms, k);
        auto vg = eval_at(g, syms, k);
        if (!vf || !vg) continue;
        bool fz = close_enough(*vf, GiNaC::numeric(0), rel_tol);
        bool gz = close_enough(*vg, GiNaC::numeric(0), rel_tol);
        if (fz != gz) return {Tri::kFalse, "equations differ at a sample point"};
        if (fz) continue;
        GiNaC::numeric r = *vf / *vg;
        if (!ratio) ratio = r;
        else if (!close_enough(*ratio, r, rel_tol))
          return {Tri::kFalse, "equations are not multiples of each other"};
        ++valid;
      } catch (const std::exception&) {
        continue;
      }
    }
    if (valid >= 3) return {Tri::kTrue, "a - b is a constant multiple"};
    return unknown("could not evaluate the equations at enough points");
  } catch (const Refusal& e) {
    return unknown(e.what());
  } catch (const std::exception& e) {
    return unknown(std::string("evaluation error: ") + e.what());
  }
}

bool latex_parses(const std::string& s, const LatexLimits& limits) {
  std::lock_guard<std::mutex> lock(ginac_mutex());
  try {
    SymbolTable syms;
    Parser(s, syms, limits).parse_all();
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

std::optional<std::complex<double>> latex_evaluate(const std::string& s,
                                                   const std::map<std::string, double>& vars,
                                                   std::string* error,
                                                   const LatexLimits& limits) {
  std::lock_guard<std::mutex> lock(ginac_mutex());
  try {
    SymbolTable syms;
    GiNaC::ex e = Parser(s, syms, limits).parse_all();
    GiNaC::exmap m;
    for (const auto& kv : syms) {
      auto it = vars.find(kv.first);
      if (it == vars.end()) {
        if (error) *error = "no value for variable " + kv.first;
        return std::nullopt;
      }
      m[kv.second] = GiNaC::numeric(it->second);
    }
    GiNaC::ex v = GiNaC::evalf(m.empty() ? e : e.subs(m));
    if (!GiNaC::is_a<GiNaC::numeric>(v)) {
      if (error) *error = "did not evaluate to a number";
      return std::nullopt;
    }
    GiNaC::numeric n = GiNaC::ex_to<GiNaC::numeric>(v);
    return std::complex<double>(n.real().to_double(), n.imag().to_double());
  } catch (const std::exception& e) {
    if (error) *error = e.what();
    return std::nullopt;
  }
}

}  // namespace popo
