#include "data/arithmetic_task.h"

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>

#include "core/config.h"
#include "core/error.h"

namespace popo {
namespace {

// Independent evaluator: recursive descent over expr := term (('+'|'-') term)*, term := num ('*'
// num)*.
struct Evaluator {
  const std::string& s;
  size_t i = 0;
  long long number() {
    long long v = 0;
    while (i < s.size() && isdigit(static_cast<unsigned char>(s[i]))) v = v * 10 + (s[i++] - '0');
    return v;
  }
  long long term() {
    long long v = number();
    while (i < s.size() && s[i] == '*') ++i, v *= number();
    return v;
  }
  long long expr() {
    long long v = term();
    while (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      const char op = s[i++];
      const long long t = term();
      v = op == '+' ? v + t : v - t;
    }
    return v;
  }
};

long long evaluate(const std::string& e) { return Evaluator{e}.expr(); }

std::string expression_of(const ArithmeticProblem& p) {
  EXPECT_EQ(p.prompt.rfind("Compute ", 0), 0u) << p.prompt;
  EXPECT_EQ(p.prompt.back(), '.') << p.prompt;
  return p.prompt.substr(8, p.prompt.size() - 9);
}

// Checks every "a op b=c." step is true arithmetic, the chain ends in the boxed answer, and the
// number of steps equals the number of operators.
void check_solution(const ArithmeticProblem& p) {
  const std::regex step_re("(-?\\d+)([-+*])(\\d+)=(-?\\d+)\\. ");
  const std::string& sol = p.solution;
  auto it = std::sregex_iterator(sol.begin(), sol.end(), step_re);
  int steps = 0;
  long long last = std::stoll(expression_of(p).substr(0, expression_of(p).find_first_of("+-*")));
  size_t consumed = 0;
  for (; it != std::sregex_iterator(); ++it, ++steps) {
    const std::smatch& m = *it;
    ASSERT_EQ(static_cast<size_t>(m.position(0)), consumed) << sol;
    consumed += m.length(0);
    const long long a = std::stoll(m[1]), b = std::stoll(m[3]), c = std::stoll(m[4]);
    const char op = m[2].str()[0];
    EXPECT_EQ(c, op == '+' ? a + b : op == '-' ? a - b : a * b) << sol;
    last = c;
  }
  const std::string e = expression_of(p);
  EXPECT_EQ(steps,
            static_cast<int>(std::count_if(
                e.begin(), e.end(), [](char ch) { return ch == '+' || ch == '-' || ch == '*'; })))
      << sol;
  EXPECT_EQ(sol.substr(consumed), "\\boxed{" + p.answer + "}") << sol;
  EXPECT_EQ(std::to_string(last), p.answer) << sol;
}

TEST(ArithmeticTask, WorkedSolutionsFollowPrecedence) {
  struct Case {
    const char* expr;
    const char* solution;
  };
  const Case cases[] = {
      {"17+5*3-8", "5*3=15. 17+15=32. 32-8=24. \\boxed{24}"},
      {"2*3*4", "2*3=6. 6*4=24. \\boxed{24}"},
      {"3-8+2", "3-8=-5. -5+2=-3. \\boxed{-3}"},
      {"10-2-3", "10-2=8. 8-3=5. \\boxed{5}"},  // left to right, not 10-(2-3)
      {"1+2*3*4-5*6", "2*3=6. 6*4=24. 5*6=30. 1+24=25. 25-30=-5. \\boxed{-5}"},
      {"0*9", "0*9=0. \\boxed{0}"},
      {"7", "\\boxed{7}"},
  };
  for (const Case& c : cases) {
    const ArithmeticProblem p = arithmetic_problem_from_expression(c.expr);
    EXPECT_EQ(p.solution, c.solution);
    EXPECT_EQ(p.prompt, std::string("Compute ") + c.expr + ".");
  }
  EXPECT_THROW(arithmetic_problem_from_expression("1+"), Error);
  EXPECT_THROW(arithmetic_problem_from_expression("1/2"), Error);
  EXPECT_THROW(arithmetic_problem_from_expression("99999999999*99999999999"), Error);
}

TEST(ArithmeticTask, GeneratedAnswersAreRight) {
  ArithmeticConfig cfg;
  cfg.max_ops = 5;
  cfg.max_digits = 3;
  cfg.max_mul_digits = 2;
  for (const ArithmeticProblem& p : make_arithmetic_problems(cfg, 500, /*seed=*/11)) {
    EXPECT_EQ(p.answer, std::to_string(evaluate(expression_of(p)))) << p.prompt;
    check_solution(p);
  }
}

TEST(ArithmeticTask, DeterministicFromSeed) {
  ArithmeticConfig cfg;
  const auto a = make_arithmetic_problems(cfg, 300, /*seed=*/5);
  const auto b = make_arithmetic_problems(cfg, 300, /*seed=*/5);
  const auto c = make_arithmetic_problems(cfg, 300, /*seed=*/6);
  const auto prefix = make_arithmetic_problems(cfg, 100, /*seed=*/5);
  ASSERT_EQ(a.size(), 300u);
  int same_as_c = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].prompt, b[i].prompt);
    EXPECT_EQ(a[i].id, b[i].id);
    same_as_c += a[i].prompt == c[i].prompt;
    if (i < prefix.size()) {
      EXPECT_EQ(a[i].prompt, prefix[i].prompt);
    }
  }
  EXPECT_LT(same_as_c, 30);
  // Ids are distinct within a set, as are the problems.
  std::set<std::string> ids, prompts;
  for (const auto& p : a) ids.insert(p.id), prompts.insert(p.prompt);
  EXPECT_EQ(ids.size(), a.size());
  EXPECT_EQ(prompts.size(), a.size());
}

TEST(ArithmeticTask, HeldoutIsDisjointFromTrainingForAnySeeds) {
  ArithmeticConfig cfg;
  cfg.max_ops = 2;  // a small space, so overlaps would show up if the split leaked
  std::set<std::string> train;
  for (uint64_t seed : {1, 2, 3})
    for (const auto& p : make_arithmetic_problems(cfg, 1500, seed)) train.insert(p.prompt);
  for (uint64_t seed : {1, 9}) {
    const auto held = make_arithmetic_problems(cfg, 200, seed, ArithmeticSplit::kHeldout);
    ASSERT_EQ(held.size(), 200u);
    for (const auto& p : held) {
      EXPECT_EQ(train.count(p.prompt), 0u) << p.prompt;
      EXPECT_TRUE(is_heldout_expression(expression_of(p), cfg.heldout_fraction));
    }
  }
  // The partition holds about heldout_fraction of expressions.
  int held = 0;
  for (int a = 0; a < 100; ++a)
    for (int b = 0; b < 100; ++b)
      held += is_heldout_expression(std::to_string(a) + "+" + std::to_string(b), 0.1);
  EXPECT_NEAR(held / 10000.0, 0.1, 0.015);
}

TEST(ArithmeticTask, DifficultyKnobsBoundOperatorsAndDigits) {
  struct Case {
    int min_ops, max_ops, min_digits, max_digits, max_mul_digits;
    std::string ops;
  };
  const Case cases[] = {
      {1, 1, 1, 1, 0, "+-*"}, {2, 4, 2, 3, 1, "+-*"}, {3, 3, 1, 2, 0, "+"}, {1, 2, 3, 3, 2, "*-"}};
  for (const Case& c : cases) {
    ArithmeticConfig cfg;
    cfg.min_ops = c.min_ops, cfg.max_ops = c.max_ops, cfg.min_digits = c.min_digits,
    cfg.max_digits = c.max_digits, cfg.max_mul_digits = c.max_mul_digits, cfg.operators = c.ops;
    std::set<int> seen_ops, seen_digits;
    for (const auto& p : make_arithmetic_problems(cfg, 150, /*seed=*/3)) {
      const std::string e = expression_of(p);
      const std::regex tok("(\\d+)|([-+*])");
      std::vector<std::string> toks;
      for (auto it = std::sregex_iterator(e.begin(), e.end(), tok); it != std::sregex_iterator();
           ++it)
        toks.push_back(it->str());
      const int n_ops = static_cast<int>(toks.size() / 2);
      EXPECT_GE(n_ops, c.min_ops) << e;
      EXPECT_LE(n_ops, c.max_ops) << e;
      seen_ops.insert(n_ops);
      for (size_t i = 0; i < toks.size(); i += 2) {
        const int digits = static_cast<int>(toks[i].size());
        const bool near_mul =
            (i > 0 && toks[i - 1] == "*") || (i + 1 < toks.size() && toks[i + 1] == "*");
        const int hi = near_mul && c.max_mul_digits > 0 ? std::min(c.max_digits, c.max_mul_digits)
                                                        : c.max_digits;
        EXPECT_LE(digits, hi) << e;
        EXPECT_GE(digits, std::min(c.min_digits, hi)) << e;
        EXPECT_TRUE(digits == 1 || toks[i][0] != '0') << e;  // no leading zeros
        if (!near_mul) seen_digits.insert(digits);
        if (i + 1 < toks.size()) {
          EXPECT_NE(c.ops.find(toks[i + 1]), std::string::npos) << e;
        }
      }
    }
    EXPECT_EQ(seen_ops.size(), static_cast<size_t>(c.max_ops - c.min_ops + 1));
    ASSERT_FALSE(seen_digits.empty());
    EXPECT_EQ(*seen_digits.begin(), c.min_digits);  // both ends of the digit range occur
    EXPECT_EQ(*seen_digits.rbegin(), c.max_digits);
  }
}

TEST(ArithmeticTask, RejectsBadConfigAndTooSmallSpace) {
  ArithmeticConfig bad;
  bad.operators = "+/";
  EXPECT_THROW(make_arithmetic_problems(bad, 1, 0), Error);
  bad = ArithmeticConfig{};
  bad.max_ops = 0;
  EXPECT_THROW(make_arithmetic_problems(bad, 1, 0), Error);
  // 1 op, 1 digit, '+' only: 100 expressions, about 10 held out.
  ArithmeticConfig tiny;
  tiny.min_ops = tiny.max_ops = 1, tiny.max_digits = 1, tiny.operators = "+";
  EXPECT_THROW(make_arithmetic_problems(tiny, 50, 0, ArithmeticSplit::kHeldout), Error);
  EXPECT_EQ(make_arithmetic_problems(tiny, 60, 0).size(), 60u);
}

TEST(ArithmeticTask, CorpusCoversTheSolutionAlphabet) {
  ArithmeticConfig cfg;
  const auto corpus = arithmetic_corpus(cfg, /*num_examples=*/200, /*seed=*/0);
  EXPECT_EQ(corpus.size(), 207u);
  std::set<char> chars;
  for (const auto& t : corpus) chars.insert(t.begin(), t.end());
  for (char c : std::string("0123456789+-*=.{}\\ Computebxd")) EXPECT_EQ(chars.count(c), 1u) << c;
  // Every character any problem uses is in the corpus.
  for (const auto& p : make_arithmetic_problems(cfg, 300, /*seed=*/4, ArithmeticSplit::kHeldout))
    for (char c : p.prompt + p.solution) EXPECT_EQ(chars.count(c), 1u) << c;
}

TEST(ArithmeticTask, ConfigLoadsFromYaml) {
  ArithmeticConfig cfg;
  load_yaml_string("max_ops: 5\noperators: \"+*\"\n", cfg);
  EXPECT_EQ(cfg.max_ops, 5);
  EXPECT_EQ(cfg.operators, "+*");
}

}  // namespace
}  // namespace popo
