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
