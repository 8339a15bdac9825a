// Table-driven checks of answer equivalence: hand-written (gold, prediction, expected) pairs for
// every normalisation rule and comparison stage, including pairs that must NOT be equal. The
// expectations are mathematical facts worked out by hand, not outputs of the implementation.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "reward/math_verifier.h"

namespace popo {
namespace {

struct Pair {
  const char* gold;
  const char* pred;
  bool equal;
  const char* by;  // expected decided_by when equal (nullptr: any stage)
};

// clang-format off
const Pair kPairs[] = {
  // ---- exact after normalisation ---------------------------------------------------------
  {"5", "5", true, "exact"},
  {"5", " 5 ", true, "exact"},
  {"5", "$5$", true, "exact"},
  {"5", "\\$5", true, "exact"},
  {"\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})", true, "exact"},
  {"\\frac{1}{2}", "\\dfrac{1}{2}", true, "exact"},
  {"\\frac{1}{2}", "\\tfrac{1}{2}", true, "exact"},
  {"\\frac{1}{2}", "\\frac12", true, "exact"},
  {"\\frac{3}{4}", "\\frac 3 4", true, "exact"},
  {"\\frac{1}{2}", "\\frac1{2}", true, "exact"},
  {"\\sqrt{2}", "\\sqrt2", true, "exact"},
  {"3\\sqrt{2}", "3\\sqrt 2", true, "exact"},
  {"\\frac{\\pi}{2}", "\\frac\\pi2", true, "exact"},
  {"30", "30^\\circ", true, "exact"},
  {"30", "30^{\\circ}", true, "exact"},
  {"30^\\circ", "30", true, "exact"},
  {"30", "30 degrees", true, "exact"},
  {"45", "45\\%", true, "exact"},
  {"45", "45 percent", true, "exact"},
  {"12", "12\\text{ cm}", true, "exact"},
  {"12", "12 \\mbox{ inches}", true, "exact"},
  {"12", "12\\mathrm{~cm}^2", true, "exact"},
  {"12", "12 \\text{square feet}", true, "exact"},
  {"18", "\\$18.00", true, nullptr},
  {"18", "18 dollars", true, "exact"},
  {"7425000", "7,425,000", true, "exact"},
  {"7,425,000", "7425000", true, "exact"},
  {"1000", "1 000", true, "exact"},
  {"1000", "1{,}000", true, "exact"},
  {"1000", "1\\,000", true, "exact"},
  {"25", "025", true, "exact"},
  {"73", "073", true, "exact"},
  {"5", "5.0", true, "exact"},
  {"5", "5.00", true, "exact"},
  {"2.5", "2.50", true, "exact"},
  {"0.5", ".5", true, "exact"},
  {"5", "x = 5", true, "exact"},
  {"5", "x=5", true, "exact"},
  {"k = 7", "7", true, "exact"},
  {"[1,3]", "x \\in [1,3]", true, "exact"},
  {"\\{1,2\\}", "\\left\\{1, 2\\right\\}", true, "exact"},
  {"\\text{(C)}", "C", true, "exact"},
  {"\\textbf{(C)}", "(C)", true, "exact"},
  {"\\text{Yes}", "yes", true, "exact"},
  {"\\text{Devon}", "Devon", true, "exact"},
  {"-\\frac{1}{3}", "-\\frac13", true, "exact"},
  {"\\frac{1}{2}", "\\!\\frac{1}{2}", true, "exact"},
  {"2\\pi", "2 \\pi", true, "exact"},
  {"x \\le 3", "x\\leq 3", true, "exact"},
  {"5", "\\boxed{5}", true, "exact"},
  {"10", "10.", true, "exact"},
  {"1,2", "1 \\text{ and } 2", true, nullptr},
  // ---- numeric -----------------------------------------------------------------------------
  {"\\frac{1}{2}", "0.5", true, "numeric"},
  {"0.5", "\\frac{1}{2}", true, "numeric"},
  // Math-Verify's rule: a decimal is rounded to 6 places on both sides (docs/VERIFIER.md §4).
  {"\\frac{1}{3}", "0.333333", true, "numeric"},
  {"\\frac{1}{3}", "0.33333", false, nullptr},
  {"\\frac{2}{3}", "0.666667", true, "numeric"},
  {"\\frac{2}{3}", "0.66667", false, nullptr},
  {"-\\frac{3}{4}", "-0.75", true, "numeric"},
  {"\\frac{3}{4}", "3/4", true, "numeric"},
  {"1.5", "3/2", true, "numeric"},
  {"4.5e33", "4.5\\times10^{33}", true, "numeric"},
  {"4.5\\times 10^{33}", "4.5e33", true, "numeric"},
  {"4.5 \\times 10^{33}", "4.5E+33", true, "numeric"},
  {"4.5e33", "45e32", true, "numeric"},
  {"1.6", "1.6000001", true, "numeric"},
  {"1.6", "1.60001", false, nullptr},
  {"3.14159", "3.1416", false, nullptr},
  {"100000", "1e5", true, "numeric"},
  {"10^{5}", "100000", true, "numeric"},
  {"6.02\\times10^{23}", "6.02 \\cdot 10^{23}", true, "numeric"},
  {"25\\%", "0.25", true, "numeric"},
  {"12.5\\%", "0.125", true, "numeric"},
  {"-1./3", "-\\frac{1}{3}", true, "numeric"},
  {"0", "0.0", true, "exact"},
  {"2.0", "2", true, "exact"},
  {"1e-3", "0.001", true, "numeric"},
  {"3.0\\times10^{8}", "300000000", true, "numeric"},
  // ---- tuples, sets, intervals, matrices --------------------------------------------------
  {"(1,2)", "(1, 2)", true, "exact"},
  {"(1,2)", "(1, \\frac{4}{2})", true, "tuple"},
  {"(\\frac{1}{2}, 3)", "(0.5, 3)", true, "tuple"},
  {"(3, \\frac{\\pi}{2})", "(3, \\frac{1}{2}\\pi)", true, "tuple"},
  {"(1,2)", "1, 2", true, "tuple"},
  {"\\{1,2\\}", "\\{2,1\\}", true, "set"},
  {"1,2,3", "3,2,1", true, "set"},
  {"1, -1", "-1, 1", true, "set"},
  {"\\frac{1}{2}, 2", "2, 0.5", true, "set"},
  {"\\{1,2\\}", "2, 1", true, "set"},
  {"[1,2)", "[1,2)", true, "exact"},
  {"[1,2)", "[1, \\frac{4}{2})", true, "interval"},
  {"(-\\infty, 3)", "(-\\infty,3)", true, "exact"},
  {"(-\\infty, 3) \\cup (5, \\infty)", "(5,\\infty)\\cup(-\\infty,3)", true, "interval"},
  {"[\\frac{1}{2}, 1]", "[0.5, 1]", true, "interval"},
  {"(0, \\sqrt{2}]", "(0, 2^{1/2}]", true, "interval"},
  {"\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}", true, "exact"},
  {"\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}1.0\\\\\\frac{4}{2}\\end{pmatrix}", true, "matrix"},
  {"\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{pmatrix} 1 & 2 \\\\ 3 & \\frac{8}{2} \\end{pmatrix}", true, "matrix"},
  {"(1, (2, 3))", "(1, (\\frac{4}{2}, 3))", true, "tuple"},
  // ---- symbolic ----------------------------------------------------------------------------
  {"2\\sqrt{3}", "\\sqrt{12}", true, "symbolic"},
  {"\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}\\sqrt{3}", true, "symbolic"},
  {"\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}", true, "symbolic"},
  {"x^2+2x+1", "(x+1)^2", true, "symbolic"},
  {"(x+1)(x-1)", "x^2-1", true, "symbolic"},
  {"3x", "x+x+x", true, "symbolic"},
  {"2x", "x\\cdot 2", true, "symbolic"},
  {"2x", "2 \\times x", true, "symbolic"},
  {"\\frac{x}{2}", "0.5x", true, "symbolic"},
  {"\\pi", "3.14159265", true, "symbolic"},
  {"2\\pi", "6.283185", true, "symbolic"},
  {"2\\pi", "6.2832", false, nullptr},
  {"\\sqrt{2}", "1.414214", true, "symbolic"},
  {"\\sqrt{2}", "1.41421", false, nullptr},
  {"\\sin^2 x + \\cos^2 x", "1", true, "symbolic"},
  {"\\log_2 8", "3", true, "symbolic"},
  {"\\ln(e^2)", "2", true, "symbolic"},
  {"\\sqrt[3]{8}", "2", true, "symbolic"},
  {"\\sqrt[3]{2}", "2^{1/3}", true, "symbolic"},
  {"e^{2}", "e\\cdot e", true, "symbolic"},
  {"\\tan\\frac{\\pi}{4}", "1", true, "symbolic"},
  {"\\cos(\\pi)", "-1", true, "symbolic"},
  {"\\frac{1}{x}+\\frac{1}{y}", "\\frac{x+y}{xy}", true, "symbolic"},
  {"a^2-b^2", "(a-b)(a+b)", true, "symbolic"},
  {"5!", "120", true, "symbolic"},
  {"|{-3}|", "3", true, "symbolic"},
  {"1+2i", "i2+1", true, "symbolic"},
  {"2^{10}", "1024", true, "symbolic"},
  {"\\frac{9\\sqrt{3}}{4}", "\\frac{9}{4}\\sqrt{3}", true, "symbolic"},
  {"6 - 2\\sqrt{5}", "(\\sqrt{5}-1)^2", true, "symbolic"},
  {"p - q", "-q+p", true, "symbolic"},
  {"x_1 + x_2", "x_2 + x_1", true, "symbolic"},
  {"2\\sqrt{3}", "2\u221a3", true, "exact"},
  {"\\pi", "\u03c0", true, "exact"},
  {"-5", "\u22125", true, "exact"},
  {"\\sqrt{2}", "sqrt(2)", true, "symbolic"},
  {"2^{10}", "2**10", true, "symbolic"},
  {"\\frac{\\pi}{3}", "pi/3", true, "symbolic"},
  {"\\ln 2", "ln(2)", true, "symbolic"},
  {"\\pm 2", "2, -2", true, "set"},
  {"1 \\pm \\sqrt{2}", "1-\\sqrt{2}, 1+\\sqrt{2}", true, "set"},
  {"1 \\pm \\sqrt{2}", "1+\\sqrt{2}", false, nullptr},
  {"2, 3", "x=2 \\text{ or } x=3", true, "set"},
  // ---- equations ---------------------------------------------------------------------------
  {"y = 2x + 3", "y=2x+3", true, "exact"},
  {"y = 2x + 3", "2x - y + 3 = 0", true, "equation"},
  {"y = 2x + 3", "2y = 4x + 6", true, "equation"},
  {"x + y = 1", "y + x = 1", true, "equation"},
  {"x^2 + y^2 = 1", "1 = y^2 + x^2", true, "equation"},
  {"y = 2x + 3", "y = 3x + 2", false, nullptr},
  {"x + y = 1", "x - y = 1", false, nullptr},
  {"x^2+y^2=4", "x^2+y^2=2", false, nullptr},
  // ---- must not be equal -------------------------------------------------------------------
  {"\\frac{1}{2}", "\\frac{1}{3}", false, nullptr},
  {"(1,2)", "\\{1,2\\}", true, "set"},  // Math-Verify: an open interval against a pair
  {"x^2", "2x", false, nullptr},
  {"(1,2)", "(2,1)", false, nullptr},
  {"[1,2)", "(1,2)", false, nullptr},
  {"[1,2]", "[1,2)", false, nullptr},
  {"(1,2]", "(1,2)", false, nullptr},
  {"5", "6", false, nullptr},
  {"5", "", false, nullptr},
  {"25", "205", false, nullptr},
  {"100000", "100001", false, nullptr},
  {"1000000007", "1000000008", false, nullptr},
  {"0.5", "0.51", false, nullptr},
  {"\\sqrt{2}", "\\sqrt{3}", false, nullptr},
  {"2\\sqrt{3}", "3\\sqrt{2}", false, nullptr},
  {"\\pi", "3.14", false, nullptr},
  {"x+1", "x-1", false, nullptr},
  {"(x+1)^2", "x^2+1", false, nullptr},
  {"\\{1,2\\}", "\\{1,2,3\\}", false, nullptr},
  {"1,2,3", "1,2", false, nullptr},
  {"(1,2,3)", "(1,2)", false, nullptr},
  {"\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}2\\\\1\\end{pmatrix}", false, nullptr},
  {"(-\\infty, 3)", "(-\\infty, 3]", false, nullptr},
  {"(-\\infty, 3)", "(3, \\infty)", false, nullptr},
  {"x < 3", "x > 3", false, nullptr},
  {"\\text{(C)}", "D", false, nullptr},
  {"\\text{yes}", "no", false, nullptr},
  {"-5", "5", false, nullptr},
  {"\\frac{1}{4}", "4", false, nullptr},
  {"4.5e33", "4.5e32", false, nullptr},
  {"\\sin x", "\\cos x", false, nullptr},
  {"e^x", "x^e", false, nullptr},
  {"2^{10}", "1023", false, nullptr},
  {"1+2i", "1-2i", false, nullptr},
  {"25\\%", "0.3", false, nullptr},
  {"3", "(3)", true, "symbolic"},
  {"\\frac{2}{3}", "\\frac{3}{2}", false, nullptr},
  {"xy", "x+y", false, nullptr},
  {"5", "\\infty", false, nullptr},
  {"2", "1+1i", false, nullptr},
};
// clang-format on

TEST(MathVerifierTable, HandWrittenPairs) {
  ASSERT_GE(sizeof(kPairs) / sizeof(kPairs[0]), 150u);
  VerifyOptions opt;
  int failures = 0;
  for (const Pair& p : kPairs) {
    std::string by;
    Equivalence e = compare_answers(p.gold, p.pred, opt);
    bool ok = e.equal == p.equal && (!p.equal || p.by == nullptr || e.decided_by == p.by);
    if (!ok) ++failures;
    EXPECT_TRUE(ok) << "gold=[" << p.gold << "] pred=[" << p.pred << "] expected "
                    << (p.equal ? "equal" : "not equal") << (p.by ? std::string(" by ") + p.by : "")
                    << ", got " << (e.equal ? "equal" : "not equal") << " by '" << e.decided_by
                    << "' (" << e.reason << ")";
    // The contract wrapper agrees with the detailed call.
    EXPECT_EQ(answers_equivalent(p.gold, p.pred, opt, &by), e.equal);
  }
  EXPECT_EQ(failures, 0);
}

TEST(MathVerifierTable, ToleranceIsConfigurable) {
  VerifyOptions loose;
  loose.rel_tol = 1e-2;
  VerifyOptions tight;
  tight.rel_tol = 1e-8;
  EXPECT_TRUE(answers_equivalent("3.14159", "3.13", loose));
  EXPECT_FALSE(answers_equivalent("3.14159", "3.13", {}));
  EXPECT_FALSE(answers_equivalent("3.14159", "3.1416", tight));
}

}  // namespace
}  // namespace popo
