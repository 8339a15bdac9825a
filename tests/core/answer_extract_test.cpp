// Extraction rules of answer_extract.h and the parser of latex_expr.h, checked against
// hand-written responses and hand-computed values.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "reward/answer_extract.h"
#include "reward/latex_expr.h"

namespace popo {
namespace {

constexpr ExtractMode kMV = ExtractMode::kMathVerify;
constexpr ExtractMode kBox = ExtractMode::kBoxed;

struct ExtractCase {
  const char* response;
  ExtractMode mode;
  bool last_number;  // boxed mode only
  const char* answer;
  ExtractRule rule;
};

// Expectations follow docs/VERIFIER.md §2 (Math-Verify's order with boxes at priority 0, as POPO
// configures predictions) and the deliberate differences listed there.
// clang-format off
const ExtractCase kExtract[] = {
  {"So the answer is \\boxed{5}.",                              kMV,  false, "5",                ExtractRule::kBoxed},
  {"\\boxed{1} then \\boxed{2}",                                kMV,  false, "1,2",              ExtractRule::kBoxed},   // gap < 10: one answer
  {"\\boxed{3}. Actually \\boxed{5}",                           kMV,  false, "5",                ExtractRule::kBoxed},   // gap 11, no and/or
  {"\\boxed{3} or \\boxed{5}",                                  kMV,  false, "3,5",              ExtractRule::kBoxed},
  {"\\boxed{3}, and after some thought, also \\boxed{5}",       kMV,  false, "3,5",              ExtractRule::kBoxed},   // < 70 with ','
  {"\\boxed{4} \\boxed{4}",                                     kMV,  false, "4",                ExtractRule::kBoxed},   // equal contents once
  {"$\\boxed{\\frac{1}{2}}$",                                   kMV,  false, "\\frac{1}{2}",     ExtractRule::kBoxed},
  {"\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}",              kMV,  false, "\\left( 3, \\frac{\\pi}{2} \\right)", ExtractRule::kBoxed},
  {"\\boxed{{a}{b}{c}}",                                        kMV,  false, "{a}{b}{c}",        ExtractRule::kBoxed},
  {"\\boxed{\\{1,2\\}}",                                        kMV,  false, "\\{1,2\\}",        ExtractRule::kBoxed},
  {"\\fbox{7}",                                                 kMV,  false, "7",                ExtractRule::kBoxed},   // deliberate: MV finds nothing
  {"\\boxed {  12 }",                                           kMV,  false, "12",               ExtractRule::kBoxed},   // deliberate: MV finds nothing
  {"The answer is $\\boxed 5$.",                                kMV,  false, "5",                ExtractRule::kBoxed},
  {"\\boxed{3} and later \\boxed{4",                            kMV,  false, "3",                ExtractRule::kBoxed},
  {"the final answer is $7$, more \\boxed{8}",                  kMV,  false, "8",                ExtractRule::kBoxed},
  {"The final answer is $7$. I hope it is right. \\boxed{8}",   kMV,  false, "8",                ExtractRule::kBoxed},   // priority 0 tie: rightmost
  {"Answer: 9. Also \\boxed{7}",                                kMV,  false, "7",                ExtractRule::kBoxed},
  {"We get 3. The answer is 42.",                               kMV,  false, "42",               ExtractRule::kAnswerIs},
  {"The final answer is $\\frac{3}{4}$. I hope it is correct.", kMV,  false, "\\frac{3}{4}",     ExtractRule::kAnswerIs},
  {"Final Answer: The final answer is 5. I hope it is correct.",kMV,  false, "5",                ExtractRule::kAnswerIs},
  {"Final Answer: The largest $n$ is 34.",                      kMV,  false, "34",               ExtractRule::kAnswerIs},
  {"Answer: 17",                                                kMV,  false, "17",               ExtractRule::kAnswerIs},
  {"**Answer:** 3.5",                                           kMV,  false, "3.5",              ExtractRule::kAnswerIs},
  {"answer: (1, 2)\n",                                          kMV,  false, "(1, 2)",           ExtractRule::kAnswerIs},
  {"The answer is **12**.",                                     kMV,  false, "12",               ExtractRule::kAnswerIs},
  {"so the answer is: \\(x^2\\)",                               kMV,  false, "x^2",              ExtractRule::kAnswerIs},
  {"The answer is 3 or 5.",                                     kMV,  false, "3,5",              ExtractRule::kAnswerIs},
  {"Answer: 3 + 4 = 7",                                         kMV,  false, "7",                ExtractRule::kAnswerIs},
  {"So we have $ 9 $",                                          kMV,  false, "9",                ExtractRule::kLatex},
  {"Therefore\n\\[ 9 \\]\nis the count.",                       kMV,  false, "9",                ExtractRule::kLatex},
  {"It is $\\frac{1}{2}$ or so.",                               kMV,  false, "\\frac{1}{2}",     ExtractRule::kLatex},
  {"$1$, $2$, and $3$",                                         kMV,  false, "1,2,3",            ExtractRule::kLatex},   // deliberate: ", and" joins
  {"x is $3$ and y is $5$",                                     kMV,  false, "5",                ExtractRule::kLatex},
  {"Thus 3 + 4 = 7\n#### 7",                                    kMV,  false, "7",                ExtractRule::kLastNumber},
  {"She earns 9 * 2 = 18 dollars.",                             kMV,  false, "18",               ExtractRule::kLastNumber},
  {"Total: 1,080 apples",                                       kMV,  false, "1080",             ExtractRule::kLastNumber},
  {"The total is 3,5 kg",                                       kMV,  false, "3.5",              ExtractRule::kLastNumber},
  {"The temperature is -3.5 degrees.",                          kMV,  false, "-3.5",             ExtractRule::kLastNumber},
  {"I got 50% of it",                                           kMV,  false, "50\\%",            ExtractRule::kLastNumber},
  {"42 apples and 7 pears",                                     kMV,  false, "7",                ExtractRule::kLastNumber},
  {"1, 2, 3, 4, 5",                                             kMV,  false, "1,2,3,4,5",        ExtractRule::kLastNumber},
  {"maybe 3 or 5",                                              kMV,  false, "3,5",              ExtractRule::kLastNumber},
  {"No digits here",                                            kMV,  false, "",                 ExtractRule::kNone},
  {"",                                                          kMV,  false, "",                 ExtractRule::kNone},
  {"\\boxed{}",                                                 kMV,  false, "",                 ExtractRule::kNone},
  // strict boxed-only grading
  {"So the answer is \\boxed{5}.",                              kBox, false, "5",                ExtractRule::kBoxed},
  {"\\boxed{3} or \\boxed{5}",                                  kBox, false, "3,5",              ExtractRule::kBoxed},
  {"The answer is 42.",                                         kBox, false, "",                 ExtractRule::kNone},
  {"So we have $ 9 $",                                          kBox, false, "",                 ExtractRule::kNone},
  {"She earns 9 * 2 = 18 dollars.",                             kBox, true,  "18",               ExtractRule::kLastNumber},
  {"She earns 9 * 2 = 18 dollars.",                             kBox, false, "",                 ExtractRule::kNone},
};
// clang-format on

TEST(AnswerExtract, Rules) {
  for (const auto& c : kExtract) {
    Extraction e = extract_answer(c.response, c.mode, c.last_number);
    EXPECT_EQ(e.answer, c.answer) << c.response;
    EXPECT_EQ(rule_name(e.rule), std::string(rule_name(c.rule))) << c.response;
  }
}

TEST(AnswerExtract, GoldsAreBareLatexUnlessDelimited) {
  struct G { const char* gold; const char* answer; ExtractRule rule; };
  const G cases[] = {
      {"\\frac{1}{2}",                 "\\frac{1}{2}",            ExtractRule::kWhole},
      {"(3, \\frac{\\pi}{2})",         "(3, \\frac{\\pi}{2})",    ExtractRule::kWhole},
      {"\\text{Evelyn}",               "\\text{Evelyn}",          ExtractRule::kWhole},
      {"\\$18.00",                     "\\$18.00",                ExtractRule::kWhole},
      {"$[0,1)$",                      "[0,1)",                   ExtractRule::kLatex},
      {"\\boxed{7}",                   "7",                       ExtractRule::kBoxed},
      {"The answer is 12.",            "12",                      ExtractRule::kAnswerIs},
  };
  for (const auto& c : cases) {
    Extraction e = extract_gold(c.gold);
    EXPECT_EQ(e.answer, c.answer) << c.gold;
    EXPECT_EQ(rule_name(e.rule), std::string(rule_name(c.rule))) << c.gold;
  }
}

TEST(AnswerExtract, ModeNames) {
  EXPECT_EQ(parse_extract_mode("math_verify", "reward.extraction"), ExtractMode::kMathVerify);
  EXPECT_EQ(parse_extract_mode("boxed", "reward.extraction"), ExtractMode::kBoxed);
  EXPECT_STREQ(extract_mode_name(ExtractMode::kBoxed), "boxed");
  try {
    parse_extract_mode("lenient", "reward.extraction");
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("reward.extraction"), std::string::npos) << e.what();
  }
}

TEST(AnswerExtract, NestedBracesFiveThousandDeep) {
  std::string inner(5000, '{');
  inner += "x";
  inner += std::string(5000, '}');
  Extraction e = extract_answer("\\boxed{" + inner + "}", kMV, false);
  EXPECT_EQ(e.rule, ExtractRule::kBoxed);
  EXPECT_EQ(e.answer, inner);
}

TEST(AnswerExtract, ManyUnclosedBoxesStayLinear) {
  std::string s;
  for (int i = 0; i < 100000; ++i) s += "\\boxed{";  // 700 KB, nothing closes
  s += " the answer is 3";
  Extraction e = extract_answer(s, kMV, false);
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
