// verify(): verdicts, bounds on pathological input, thread safety.
#include <gtest/gtest.h>

#include <time.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "reward/math_normalize.h"
#include "reward/math_verifier.h"

namespace popo {
namespace {

// The time bounds below are on this thread's CPU time, not the wall clock: on a loaded machine the
// wall clock also counts the time other processes ran, which says nothing of the verifier's work
// (its own deadline is wall-clock, so under load it stops sooner, never later). That the deadline
// is hit and reported is checked structurally by TimeBudgetIsHonoured (max_ms = 0).
struct Clock {
  using time_point = double;
  static double now() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  }
};

double seconds_since(Clock::time_point t0) { return Clock::now() - t0; }

TEST(Verify, VerdictsAndRules) {
  VerifyResult r = verify("Thus the answer is $\\boxed{\\dfrac{1}{2}}$.", "0.5");
  EXPECT_EQ(r.verdict, Verdict::kCorrect);
  EXPECT_EQ(r.extracted.rule, ExtractRule::kBoxed);
  EXPECT_EQ(r.extracted.answer, "\\dfrac{1}{2}");
  EXPECT_EQ(r.decided_by, "numeric");
  EXPECT_STREQ(verdict_name(r.verdict), "correct");

  r = verify("\\boxed{3}", "4");
  EXPECT_EQ(r.verdict, Verdict::kIncorrect);
  EXPECT_FALSE(r.reason.empty());
  EXPECT_STREQ(verdict_name(r.verdict), "incorrect");

  r = verify("I do not know.", "4");
  EXPECT_EQ(r.verdict, Verdict::kNoAnswer);
  EXPECT_STREQ(verdict_name(r.verdict), "no_answer");

  // math_verify (the default) reads the last number; boxed grading does not, unless asked to.
  r = verify("She has 3 + 4 = 7 apples.", "7");
  EXPECT_EQ(r.verdict, Verdict::kCorrect);
  EXPECT_EQ(r.extracted.rule, ExtractRule::kLastNumber);
  VerifyOptions boxed;
  boxed.extraction = ExtractMode::kBoxed;
  r = verify("She has 3 + 4 = 7 apples.", "7", boxed);
  EXPECT_EQ(r.verdict, Verdict::kNoAnswer);
  EXPECT_NE(r.reason.find("boxed"), std::string::npos) << r.reason;
  boxed.allow_last_number = true;
  EXPECT_EQ(verify("She has 3 + 4 = 7 apples.", "7", boxed).verdict, Verdict::kCorrect);
}

// Each pathological input finishes quickly, says "not equal" and gives a reason.
TEST(Verify, PathologicalInputsAreBounded) {
  std::vector<std::pair<std::string, std::string>> cases = {
      {"\\boxed{10^{10^{10^{10}}}}", "10^{10^{10^{10}}}+1"},
      {"\\boxed{2^{2^{2^{2^{2^{2}}}}}}", "3"},
      {"\\boxed{(x+1)^{100000}}", "x"},
      {"\\boxed{(x+y+z+w)^{60} - 1}", "(x+y+z+w)^{60}"},
      {"\\boxed{" + std::string(5000, '{') + "1" + std::string(5000, '}') + "}", "2"},
      {"\\boxed{" + std::string(5000, '(') + "1" + std::string(5000, ')') + "}", "2"},
      {"\\boxed{" + std::string(3000, '-') + "1}", "2"},
      {"\\boxed{\\frac{" + std::string(2000, '9') + "}{7}}", "1"},
      {"\\boxed{9999999999999999999!}", "1"},
      {"\\boxed{\\sin(10^{1000})}", "0.5"},
  };
  // 1 MB response of digits and braces with a boxed answer at the end.
  std::string big;
  while (big.size() < (1u << 20) - 64) big += "1 + {2} \\boxed{";
  cases.push_back({big + "\\boxed{7}", "8"});
  // A 900 KB boxed answer.
  std::string sum;
  while (sum.size() < 900000) sum += "1+\\frac{1}{2}+";
  cases.push_back({"\\boxed{" + sum + "1}", "3"});
  for (const auto& [response, gold] : cases) {
    auto t0 = Clock::now();
    VerifyResult r = verify(response, gold);
    double s = seconds_since(t0);
    EXPECT_NE(r.verdict, Verdict::kCorrect) << response.substr(0, 80);
    EXPECT_FALSE(r.reason.empty()) << response.substr(0, 80);
    EXPECT_LT(s, 2.5) << response.substr(0, 80);
  }
}

TEST(Verify, OverlongResponseIsRefusedUnread) {
  VerifyOptions opt;
  opt.max_input = 1000;
  VerifyResult r = verify(std::string(2000, 'a') + "\\boxed{5}", "5", opt);
  EXPECT_EQ(r.verdict, Verdict::kIncorrect);
  EXPECT_NE(r.reason.find("max_input"), std::string::npos);
  // Exactly at the cap is still read.
  std::string ok = std::string(1000 - 9, 'a') + "\\boxed{5}";
  EXPECT_EQ(verify(ok, "5", opt).verdict, Verdict::kCorrect);
}

TEST(Verify, TimeBudgetIsHonoured) {
  VerifyOptions none;
  none.max_ms = 0;
  // Exact matches need no time; anything that needs a later stage runs out of budget.
  EXPECT_EQ(verify("\\boxed{5}", "5", none).verdict, Verdict::kCorrect);
  VerifyResult r = verify("\\boxed{\\sqrt{12}}", "2\\sqrt{3}", none);
  EXPECT_EQ(r.verdict, Verdict::kIncorrect);
  EXPECT_NE(r.reason.find("time"), std::string::npos) << r.reason;
  EXPECT_EQ(verify("\\boxed{\\sqrt{12}}", "2\\sqrt{3}").verdict, Verdict::kCorrect);
}

TEST(Verify, ThreadSafe) {
  struct Job {
    const char* response;
    const char* gold;
    Verdict want;
  };
  const Job jobs[] = {
      {"\\boxed{2\\sqrt{3}}", "\\sqrt{12}", Verdict::kCorrect},
      {"\\boxed{(x+1)^2}", "x^2+2x+1", Verdict::kCorrect},
      {"\\boxed{x^2}", "2x", Verdict::kIncorrect},
      {"\\boxed{y=2x+3}", "2x-y+3=0", Verdict::kCorrect},
      {"\\boxed{\\frac{1}{3}}", "\\frac{1}{2}", Verdict::kIncorrect},
  };
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i)
        for (const Job& j : jobs)
          if (verify(j.response, j.gold).verdict != j.want) ++wrong[t];
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(wrong[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace popo

namespace popo {
namespace {

// Random token soup (deterministic): verify never throws or hangs, every answer is equivalent
// to itself (unless it normalises to nothing), and extraction of "\boxed{x}" returns x whenever x has balanced braces.
TEST(Verify, RandomTokenSoupIsReflexiveAndBounded) {
  const char* tokens[] = {"1", "23", "0.5", "x", "y", "+", "-", "*", "/", "^", "{", "}", "(", ")",
                          "[", "]", ",", "=", "\\frac", "\\sqrt", "\\pi", "\\cdot", "\\left(",
                          "\\right)", "\\{", "\\}", "\\text{cm}", "$", "\\%", "^\\circ", " ",
                          "\\infty", "\\cup", "e", "i", "!", "|", "\\sin", "\\log_", "10^{",
                          "\\pm", ".", "\\\\", "&", "\\boxed{", "answer is", "\\dfrac", "025"};
  const size_t n_tokens = sizeof(tokens) / sizeof(tokens[0]);
  uint64_t state = 12345;
  auto next = [&state] {  // splitmix64
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  };
  auto t0 = Clock::now();
  for (int iter = 0; iter < 2000; ++iter) {
    std::string s;
    int len = 1 + static_cast<int>(next() % 12);
    for (int k = 0; k < len; ++k) s += tokens[next() % n_tokens];
    Equivalence e = compare_answers(s, s, {});
    if (!normalize_answer(s).empty()) {
      EXPECT_TRUE(e.equal) << "[" << s << "] " << e.reason;
    }
    std::string other;
    for (int k = 0; k < len; ++k) other += tokens[next() % n_tokens];
    (void)verify("\\boxed{" + other + "}", s);
    VerifyOptions boxed_last;
    boxed_last.extraction = ExtractMode::kBoxed;
    boxed_last.allow_last_number = true;
    (void)verify(other, s, boxed_last);
    (void)verify(other, s);
  }
  EXPECT_LT(seconds_since(t0), 8.0);
}

}  // namespace
}  // namespace popo

namespace popo {
namespace {

// Bad input (issue #18): each case gets a verdict with a reason within the deadline.
struct BadInput {
  const char* name;
  std::string response;
};

std::vector<BadInput> bad_inputs() {
  std::string mb;  // 1 MB of prose and half-open math, the answer at the very end
  while (mb.size() < (1u << 20) - 200) mb += "so $x = \\frac{1}{2} answer: ( \\boxed{ 1, 2 or ";
  mb += "\\boxed{7}";
  std::string braces = "\\boxed{" + std::string(10000, '{') + "7" + std::string(10000, '}') + "}";
  std::string invalid_utf8 = "The answer is \\boxed{7\xff\xfe\x80}";
  std::string nul = std::string("The answer is \\boxed{7") + '\0' + "}";
  std::string numbers;  // 1 MB of small numbers: one list, never its last element
  while (numbers.size() < (1u << 20)) numbers += "1 2 ";
  return {{"1 MB response", mb},
          {"1 MB of numbers", numbers},
          {"10,000 nested braces", braces},
          {"power tower", "\\boxed{10^{10^{10^{10}}}}"},
          {"invalid UTF-8", invalid_utf8},
          {"NUL byte", nul}};
}

TEST(VerifyBadInput, EachGetsAVerdictWithAReasonInTime) {
  for (const std::string gold : {"7", "8"}) {
    for (const auto& b : bad_inputs()) {
      for (ExtractMode mode : {ExtractMode::kMathVerify, ExtractMode::kBoxed}) {
        VerifyOptions opt;
        opt.extraction = mode;
        auto t0 = Clock::now();
        VerifyResult r = verify(b.response, gold, opt);
        double s = seconds_since(t0);
        EXPECT_LT(s, 0.001 * opt.max_ms + 0.5) << b.name;
        if (r.verdict != Verdict::kCorrect) {
          EXPECT_FALSE(r.reason.empty()) << b.name;
        }
        // None of them is the gold 8, so none may score.
        if (gold == "8") {
          EXPECT_NE(r.verdict, Verdict::kCorrect) << b.name;
        }
      }
    }
  }
}

TEST(VerifyBadInput, OneMegabyteResponseIsReadToTheEnd) {
  VerifyResult r = verify(bad_inputs()[0].response, "7");
  EXPECT_EQ(r.verdict, Verdict::kCorrect) << r.extracted.answer.substr(0, 80) << " " << r.reason;
}

TEST(VerifyBadInput, TenThousandNestedBracesAreRefusedNotRecursed) {
  VerifyResult r = verify(bad_inputs()[2].response, "7");
  EXPECT_EQ(r.verdict, Verdict::kIncorrect);
  EXPECT_NE(r.reason.find("cap"), std::string::npos) << r.reason;  // a length or nesting cap
}

TEST(VerifyBadInput, PowerTowerIsRefusedNotEvaluated) {
  VerifyResult r = verify(bad_inputs()[3].response, "7");
  EXPECT_EQ(r.verdict, Verdict::kIncorrect);
  EXPECT_NE(r.reason.find("exponent"), std::string::npos) << r.reason;
}

TEST(VerifyBadInput, InvalidUtf8AndNulAreIncorrectWithAReason) {
  for (size_t k : {4u, 5u}) {
    const BadInput b = bad_inputs()[k];
    VerifyResult r = verify(b.response, "7");
    EXPECT_EQ(r.verdict, Verdict::kIncorrect) << b.name << ": " << r.extracted.answer;
    EXPECT_FALSE(r.reason.empty()) << b.name;
  }
}

}  // namespace
}  // namespace popo
