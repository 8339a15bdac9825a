// Extraction rules of answer_extract.h and the parser of latex_expr.h, checked against
// hand-written responses and hand-computed values.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "reward/answer_extract.h"
#include "reward/latex_expr.h"

namespace popo {
namespace {

struct ExtractCase {
  const char* response;
  bool last_number;
  const char* answer;
  ExtractRule rule;
};

// clang-format off
const ExtractCase kExtract[] = {
  {"So the answer is \\boxed{5}.", false, "5", ExtractRule::kBoxed},
  {"\\boxed{1} then \\boxed{2}", false, "2", ExtractRule::kBoxed},
  {"$\\boxed{\\frac{1}{2}}$", false, "\\frac{1}{2}", ExtractRule::kBoxed},
  {"\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", false, "\\left( 3, \\frac{\\pi}{2} \\right)", ExtractRule::kBoxed},
  {"\\boxed{{a}{b}{c}}", false, "{a}{b}{c}", ExtractRule::kBoxed},
  {"\\boxed{\\{1,2\\}}", false, "\\{1,2\\}", ExtractRule::kBoxed},
  {"\\fbox{7}", false, "7", ExtractRule::kBoxed},
  {"The answer is $\\boxed 5$.", false, "5", ExtractRule::kBoxed},
  {"\\boxed{3} and later \\boxed{4", false, "3", ExtractRule::kBoxed},
  {"\\boxed {  12 }", false, "12", ExtractRule::kBoxed},
  {"We get 3. The answer is 42.", false, "42", ExtractRule::kAnswerIs},
  {"The final answer is $\\frac{3}{4}$. I hope it is correct.", false, "\\frac{3}{4}", ExtractRule::kAnswerIs},
  {"Answer: 17", false, "17", ExtractRule::kAnswerIs},
  {"Final Answer: The final answer is 5. I hope it is correct.", false, "5", ExtractRule::kAnswerIs},
  {"**Answer:** 3.5", false, "3.5", ExtractRule::kAnswerIs},
  {"answer: (1, 2)\n", false, "(1, 2)", ExtractRule::kAnswerIs},
  {"The answer is **12**.", false, "12", ExtractRule::kAnswerIs},
  {"so the answer is: \\(x^2\\)", false, "x^2", ExtractRule::kAnswerIs},
  {"Thus 3 + 4 = 7\n#### 7", false, "7", ExtractRule::kAnswerIs},
  {"She earns 9 * 2 = 18 dollars.", true, "18", ExtractRule::kLastNumber},
  {"She earns 9 * 2 = 18 dollars.", false, "", ExtractRule::kNone},
  {"Total: 1,080 apples", true, "1,080", ExtractRule::kLastNumber},
  {"The temperature is -3.5 degrees.", true, "-3.5", ExtractRule::kLastNumber},
  {"No digits here", true, "", ExtractRule::kNone},
  {"", false, "", ExtractRule::kNone},
  {"\\boxed{}", false, "", ExtractRule::kNone},
};
// clang-format on

TEST(AnswerExtract, Rules) {
  for (const auto& c : kExtract) {
    Extraction e = extract_answer(c.response, c.last_number);
    EXPECT_EQ(e.answer, c.answer) << c.response;
    EXPECT_EQ(rule_name(e.rule), std::string(rule_name(c.rule))) << c.response;
  }
}

TEST(AnswerExtract, NestedBracesFiveThousandDeep) {
  std::string inner(5000, '{');
  inner += "x";
  inner += std::string(5000, '}');
  Extraction e = extract_answer("\\boxed{" + inner + "}", false);
  EXPECT_EQ(e.rule, ExtractRule::kBoxed);
  EXPECT_EQ(e.answer, inner);
}

TEST(AnswerExtract, ManyUnclosedBoxesStayLinear) {
  std::string s;
  for (int i = 0; i < 100000; ++i) s += "\\boxed{";  // 700 KB, nothing closes
  s += " the answer is 3";
  Extraction e = extract_answer(s, false);
  EXPECT_EQ(e.rule, ExtractRule::kAnswerIs);
  EXPECT_EQ(e.answer, "3");
}

TEST(LatexExpr, EvaluatesHandComputedValues) {
  struct Case {
    const char* expr;
    double x;
    double want;
  };
  const Case cases[] = {
      {"2\\sqrt{3}", 0, 3.4641016151377544},
      {"\\frac{1}{2}", 0, 0.5},
      {"\\frac{x}{2}+1", 3, 2.5},
      {"3x^2", 2, 12},
      {"x(x+1)", 4, 20},
      {"2^{-1}", 0, 0.5},
      {"\\sqrt[3]{27}", 0, 3},
      {"\\pi", 0, 3.141592653589793},
      {"e", 0, 2.718281828459045},
      {"\\sin(\\pi/6)", 0, 0.5},
      {"\\cos 0", 0, 1},
      {"\\ln e", 0, 1},
      {"\\log_{10}1000", 0, 3},
      {"4.5e3", 0, 4500},
      {"-x^2", 3, -9},  // the power binds tighter than the sign
      {"2\\cdot3\\times4", 0, 24},
      {"12/4/3", 0, 1},  // left-associative
      {"|x-5|", 2, 3},
      {"4!", 0, 24},
  };
  for (const auto& c : cases) {
    std::string err;
    auto v = latex_evaluate(c.expr, {{"x", c.x}}, &err);
    ASSERT_TRUE(v.has_value()) << c.expr << ": " << err;
    EXPECT_NEAR(v->real(), c.want, 1e-9) << c.expr;
    EXPECT_NEAR(v->imag(), 0, 1e-12) << c.expr;
  }
}

TEST(LatexExpr, RefusesWhatItCannotBoundOrParse) {
  for (const char* bad : {"10^{10^{10^{10}}}", "x^{100000}", "2^{99999999999}", "\\frac{1}{0}",
                          "1 \\pm 2", "\\unknown{3}", "(1+2", "99999!", "\\infty"}) {
    std::string err;
    EXPECT_FALSE(latex_evaluate(bad, {{"x", 1.0}}, &err).has_value()) << bad;
    EXPECT_FALSE(err.empty()) << bad;
  }
}

}  // namespace
}  // namespace popo
