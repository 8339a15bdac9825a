// Real-data agreement: the answer extracted from each reference solution (last \boxed{}, or the
// GSM8K "#### N" line) must be judged equal to the row's `answer` field, which the dataset
// authors derived independently of this code. Failures are listed in the test output. Also a
// negative control: neighbouring rows' different answers must mostly be judged different.
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/io.h"
#include "reward/math_verifier.h"
#include "test_util.h"

namespace popo {
namespace {

struct Agreement {
  int rows = 0;        // rows with a non-empty answer
  int extracted = 0;   // rows where the solution gave an answer
  int agree = 0;       // ... judged equal to `answer`
  int non_exact = 0;   // ... decided by a stage other than "exact"
  std::vector<std::string> failures;
};

Agreement agreement(const std::string& file, bool last_number) {
  Agreement a;
  VerifyOptions opt;
  opt.allow_last_number = last_number;
  for_each_jsonl(test::data_dir() + "/" + file, [&](const nlohmann::json& row, int line) {
    std::string answer = row.value("answer", "");
    if (answer.empty()) return;
    ++a.rows;
    VerifyResult r = verify(row.value("solution", ""), answer, opt);
    if (r.verdict == Verdict::kNoAnswer) return;
    ++a.extracted;
    if (r.verdict == Verdict::kCorrect) {
      ++a.agree;
      if (r.decided_by != "exact") ++a.non_exact;
    } else {
      a.failures.push_back(file + ":" + std::to_string(line) + " answer=[" + answer +
                           "] extracted=[" + r.extracted.answer + "] (" + r.reason + ")");
    }
  });
  std::printf("%-20s rows %5d  extracted %5d  agree %5d (%.2f%%)  non-exact %d\n", file.c_str(),
              a.rows, a.extracted, a.agree, a.extracted ? 100.0 * a.agree / a.extracted : 0.0,
              a.non_exact);
  for (const auto& f : a.failures) std::printf("  disagree: %s\n", f.c_str());
  return a;
}

void expect_agreement(const std::string& file, bool last_number, int min_extracted) {
  Agreement a = agreement(file, last_number);
  EXPECT_GE(a.extracted, min_extracted) << file;
  EXPECT_GE(a.agree, 0.995 * a.extracted) << file;
}

TEST(MathVerifierData, Math500) { expect_agreement("math500.jsonl", false, 500); }
TEST(MathVerifierData, MathTrain) { expect_agreement("math_train.jsonl", false, 7498); }
TEST(MathVerifierData, Minerva) { expect_agreement("minerva.jsonl", false, 272); }
// One AIME 2024 solution (2024-I-1) ends without a boxed answer or an answer phrase.
TEST(MathVerifierData, Aime2024) { expect_agreement("aime2024.jsonl", false, 29); }
TEST(MathVerifierData, Gsm8kHashLine) { expect_agreement("gsm8k_test.jsonl", true, 1319); }

// The last-number rule alone: GSM8K solutions with their "#### N" line removed end with the
// final computation, so the last number mostly is the answer (not always: some solutions end
// with a unit sentence). Reported, with a floor.
TEST(MathVerifierData, Gsm8kLastNumberWithoutHashLine) {
  int rows = 0, agree = 0, by_last = 0;
  VerifyOptions opt;
  opt.allow_last_number = true;
  for_each_jsonl(test::data_dir() + "/gsm8k_test.jsonl", [&](const nlohmann::json& row, int) {
    std::string sol = row.value("solution", "");
    size_t hash = sol.rfind("####");
    if (hash != std::string::npos) sol = sol.substr(0, hash);
    ++rows;
    VerifyResult r = verify(sol, row.value("answer", ""), opt);
    if (r.extracted.rule == ExtractRule::kLastNumber) ++by_last;
    if (r.verdict == Verdict::kCorrect) ++agree;
  });
  std::printf("%-20s rows %5d  last-number rule %5d  agree %5d (%.2f%%)\n", "gsm8k_test (no ####)",
              rows, by_last, agree, 100.0 * agree / rows);
  EXPECT_EQ(by_last, rows);
  EXPECT_GE(agree, 0.95 * rows);
}

// OlympiadBench solutions carry no \boxed{}; wrap each gold answer in a response instead
// ("... \boxed{answer}." with \frac written \dfrac) and check extraction + normalisation.
TEST(MathVerifierData, OlympiadBenchRoundTrip) {
  int rows = 0, agree = 0;
  for_each_jsonl(test::data_dir() + "/olympiadbench.jsonl", [&](const nlohmann::json& row, int line) {
    std::string answer = row.value("answer", "");
    if (answer.empty()) return;
    ++rows;
    std::string shown = answer;
    for (size_t p = shown.find("\\frac"); p != std::string::npos; p = shown.find("\\frac", p + 6))
      shown.replace(p, 5, "\\dfrac");
    VerifyResult r = verify("Hence the result is $\\boxed{" + shown + "}$.", answer);
    if (r.verdict == Verdict::kCorrect) {
      ++agree;
    } else {
      std::printf("  disagree: olympiadbench.jsonl:%d answer=[%s] (%s)\n", line, answer.c_str(),
                  r.reason.c_str());
    }
  });
  std::printf("%-20s rows %5d  round-trip agree %5d\n", "olympiadbench.jsonl", rows, agree);
  EXPECT_EQ(rows, 675);
  EXPECT_GE(agree, 0.995 * rows);
}

// Negative control: different answers of neighbouring MATH-500 rows must be judged different
// (a verifier that says "equal" too easily fails here).
TEST(MathVerifierData, NeighbouringAnswersDiffer) {
  std::vector<std::string> answers;
  for_each_jsonl(test::data_dir() + "/math500.jsonl",
                 [&](const nlohmann::json& row, int) { answers.push_back(row.value("answer", "")); });
  ASSERT_EQ(answers.size(), 500u);
  int compared = 0, judged_equal = 0;
  for (size_t i = 0; i + 1 < answers.size(); ++i) {
    if (answers[i] == answers[i + 1]) continue;
    ++compared;
    std::string by;
    if (answers_equivalent(answers[i], answers[i + 1], {}, &by)) {
      ++judged_equal;
      std::printf("  judged equal: [%s] vs [%s] by %s\n", answers[i].c_str(),
                  answers[i + 1].c_str(), by.c_str());
    }
  }
  EXPECT_GT(compared, 400);
  EXPECT_LE(judged_equal, compared / 100);
}

}  // namespace
}  // namespace popo

namespace popo {
namespace {

// MATH-500 answers written another way by the test itself: integers with ".0" and thousands
// separators, \frac{a}{b} as a 10-digit decimal computed here, and negatives of all of them
// (which must then be judged different, unless the answer is 0).
TEST(MathVerifierData, Math500RewrittenAnswers) {
  int ints = 0, fracs = 0, failures = 0;
  for_each_jsonl(test::data_dir() + "/math500.jsonl", [&](const nlohmann::json& row, int line) {
    std::string ans = row.value("answer", "");
    std::vector<std::string> same, different;
    bool is_int = !ans.empty() && ans.size() < 15 &&
                  ans.find_first_not_of("0123456789") == std::string::npos;
    long long a = 0, b = 0;
    char tail = 0;
    if (is_int) {
      ++ints;
      long long v = std::stoll(ans);
      same.push_back(ans + ".0");
      std::string grouped = std::to_string(v);
      for (int p = static_cast<int>(grouped.size()) - 3; p > 0; p -= 3) grouped.insert(p, ",");
      same.push_back(grouped);
      if (v != 0) different.push_back("-" + ans);
      different.push_back(std::to_string(v + 1));
    } else if (std::sscanf(ans.c_str(), "\\frac{%lld}{%lld}%c", &a, &b, &tail) == 2 && b != 0) {
      ++fracs;
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.10g", static_cast<double>(a) / static_cast<double>(b));
      same.push_back(buf);
      same.push_back(std::to_string(a) + "/" + std::to_string(b));
      std::snprintf(buf, sizeof buf, "%.10g", static_cast<double>(a + 1) / static_cast<double>(b));
      different.push_back(buf);
    }
    for (const auto& s : same) {
      if (!answers_equivalent(ans, s, {})) {
        ++failures;
        std::printf("  should be equal: math500.jsonl:%d [%s] vs [%s]\n", line, ans.c_str(), s.c_str());
      }
    }
    for (const auto& s : different) {
      if (answers_equivalent(ans, s, {})) {
        ++failures;
        std::printf("  should differ: math500.jsonl:%d [%s] vs [%s]\n", line, ans.c_str(), s.c_str());
      }
    }
  });
  std::printf("math500 rewritten: %d integer answers, %d fraction answers, %d failures\n", ints,
              fracs, failures);
  EXPECT_GT(ints, 200);
  EXPECT_GT(fracs, 20);
  EXPECT_EQ(failures, 0);
}

}  // namespace
}  // namespace popo
