// A small recursive-descent parser from a LaTeX math subset to GiNaC expressions, and the
// symbolic / numeric comparisons built on it. Subset: numbers (exact rationals, 4.5e33), single
// letter variables with subscripts, + - * / ^, \cdot \times \div, implicit multiplication (2x,
// 2\sqrt{3}, x(x+1)), \frac \sqrt \sqrt[n], \pi, e, i, |x|, n!, \sin \cos \tan \cot \sec \csc,
// \arcsin \arccos \arctan, \ln \log \log_b \exp, \binom{n}{k}. It never calls GiNaC's string
// parser. Anything outside the subset, deeper than the nesting cap, with an integer exponent
// beyond the caps, or bigger than the node cap, is refused with a reason instead of evaluated.
// GiNaC is not reentrant, so every entry point holds one process-wide mutex. The GiNaC type stays
// out of this header so callers do not pay for <ginac/ginac.h>.
#pragma once

#include <chrono>
#include <complex>
#include <map>
#include <optional>
#include <string>

namespace popo {

struct LatexLimits {
  size_t max_length = 4000;          // characters of one expression
  int max_depth = 200;               // parser recursion depth (about 4 per nesting level)
  long max_int_exponent = 2000;      // |n| in x^n with a numeric base
  long max_symbolic_exponent = 64;   // |n| in x^n with a symbolic base
  double max_result_digits = 20000;  // estimated decimal digits of a numeric power
  size_t max_nodes = 5000;           // size of the parsed expression tree
};

enum class Tri { kTrue, kFalse, kUnknown };

struct SymbolicOutcome {
  Tri equal = Tri::kUnknown;
  std::string reason;  // why it is unknown (parse error, limit) or how it was decided
};

// Returns whether expressions a and b are equal: exact zero difference, else agreement within
// rel_tol at several deterministic points. Constant expressions are evaluated once: when
// float_rounding >= 0 and either side is written with a decimal point, both values are rounded
// to float_rounding decimals and compared (Math-Verify's rule), otherwise they must agree to
// 12 significant digits; float_rounding < 0 compares constants within rel_tol. Letters are
// lowercased (Math-Verify), i is the imaginary unit. kUnknown when either does not parse, hits a
// limit, or the deadline passes.
SymbolicOutcome latex_equal(const std::string& a, const std::string& b, double rel_tol,
                            std::chrono::steady_clock::time_point deadline,
                            const LatexLimits& limits = {}, int float_rounding = -1);

// Returns true if s parses in the LaTeX subset within the limits (no evaluation).
bool latex_parses(const std::string& s, const LatexLimits& limits = {});

// Returns whether the equations la = ra and lb = rb are equivalent: same sides (either order),
// or la - ra is a nonzero constant multiple of lb - rb.
SymbolicOutcome latex_equations_equal(const std::string& la, const std::string& ra,
                                      const std::string& lb, const std::string& rb,
                                      double rel_tol,
                                      std::chrono::steady_clock::time_point deadline,
                                      const LatexLimits& limits = {});

// Returns the numeric value of a LaTeX expression with the given variable values, or nullopt
// with *error set when it does not parse or evaluate.
std::optional<std::complex<double>> latex_evaluate(const std::string& s,
                                                   const std::map<std::string, double>& vars,
                                                   std::string* error = nullptr,
                                                   const LatexLimits& limits = {});

}  // namespace popo
