// The verifier's rule table (tests/data/verifier_table.jsonl) and hedging set
// (tests/data/verifier_hedging.jsonl). Each table row is a hand-written (gold, response,
// expected verdict) case filed under the rule it exercises, with equal and not-equal cases per
// rule; the expectations are what Math-Verify 0.9.0 does (../shared/docs/VERIFIER.md) or the
// deliberate difference of docs/VERIFIER.md named in the row's note. Every hedging row offers
// several candidates for one answer and must score 0.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "core/io.h"
#include "reward/math_verifier.h"
#include "reward/reward_config.h"
#include "core/build_paths.h"

namespace popo {
namespace {

std::string data_file(const std::string& name) {
  return (source_file(__FILE__).parent_path().parent_path() / "data" / name).string();
}

struct RuleCount {
  int cases = 0, correct = 0, not_correct = 0, passed = 0;
};

TEST(VerifierTable, EveryRuleAgreesWithItsExpectations) {
  std::map<std::string, RuleCount> rules;
  int rows = 0;
  for_each_jsonl(data_file("verifier_table.jsonl"), [&](const nlohmann::json& row, int line) {
    ++rows;
    RewardConfig reward;
    reward.extraction = row.at("extraction").get<std::string>();
    const std::string gold = row.at("gold"), response = row.at("response");
    const std::string expected = row.at("expected");
    VerifyResult r = verify(response, gold, reward.verify_options());
    RuleCount& c = rules[row.at("rule").get<std::string>()];
    ++c.cases;
    ++(expected == "correct" ? c.correct : c.not_correct);
    bool ok = expected == verdict_name(r.verdict);
    c.passed += ok;
    EXPECT_TRUE(ok) << "verifier_table.jsonl:" << line << " [" << row.at("rule").get<std::string>()
                    << "] gold=[" << gold << "] response=[" << response.substr(0, 200)
                    << "] expected " << expected << ", got " << verdict_name(r.verdict)
                    << " (extracted [" << r.extracted.answer << "] by " << rule_name(r.extracted.rule)
                    << ", " << r.reason << ")";
  });
  std::printf("%-24s %6s %8s %12s %7s\n", "rule", "cases", "correct", "not correct", "passed");
  for (const auto& [name, c] : rules) {
    std::printf("%-24s %6d %8d %12d %7d\n", name.c_str(), c.cases, c.correct, c.not_correct, c.passed);
    // Each rule has both kinds of case, so a rule that always says yes (or no) fails here.
    EXPECT_GE(c.correct, 1) << name;
    EXPECT_GE(c.not_correct, 1) << name;
  }
  std::printf("%-24s %6d\n", "total", rows);
  EXPECT_GE(rows, 300);
  EXPECT_GE(rules.size(), 20u);
}

TEST(VerifierHedging, EveryHedgeScoresZero) {
  int rows = 0;
  std::map<std::string, int> kinds;
  for_each_jsonl(data_file("verifier_hedging.jsonl"), [&](const nlohmann::json& row, int line) {
    ++rows;
    ++kinds[row.at("kind").get<std::string>()];
    const std::string gold = row.at("gold"), response = row.at("response");
    for (const char* mode : {"math_verify", "boxed"}) {
      RewardConfig reward;
      reward.extraction = mode;
      VerifyResult r = verify(response, gold, reward.verify_options());
      EXPECT_NE(r.verdict, Verdict::kCorrect)
          << "verifier_hedging.jsonl:" << line << " (" << mode << ") gold=[" << gold
          << "] response=[" << response.substr(0, 200) << "] extracted [" << r.extracted.answer
          << "]";
    }
  });
  for (const auto& [kind, n] : kinds) std::printf("hedging %-28s %4d\n", kind.c_str(), n);
  std::printf("hedging %-28s %4d\n", "total", rows);
  EXPECT_GE(rows, 50);
}

// The control of the hedging set: the same responses with the hedge removed (only the gold
// offered) score 1, so the zeros above come from the hedge, not from an unreadable response.
TEST(VerifierHedging, TheUnhedgedControlScoresOne) {
  int rows = 0;
  for_each_jsonl(data_file("verifier_hedging.jsonl"), [&](const nlohmann::json& row, int line) {
    if (!row.contains("control")) return;
    ++rows;
    VerifyResult r = verify(row.at("control").get<std::string>(), row.at("gold").get<std::string>());
    EXPECT_EQ(r.verdict, Verdict::kCorrect)
        << "verifier_hedging.jsonl:" << line << " control=[" << row.at("control").get<std::string>()
        << "] extracted [" << r.extracted.answer << "] " << r.reason;
  });
  EXPECT_GE(rows, 20);
}

// reward.extraction changes the grading: the same unboxed response is correct under math_verify
// and no_answer under boxed; an unknown value is an error naming the key.
TEST(RewardConfig, ExtractionKeyChangesTheVerdict) {
  RewardConfig mv, boxed;
  boxed.extraction = "boxed";
  EXPECT_EQ(verify("The answer is $42$.", "42", mv.verify_options()).verdict, Verdict::kCorrect);
  EXPECT_EQ(verify("The answer is $42$.", "42", boxed.verify_options()).verdict, Verdict::kNoAnswer);
  EXPECT_EQ(verify("\\boxed{42}", "42", boxed.verify_options()).verdict, Verdict::kCorrect);
  RewardConfig bad;
  bad.extraction = "lenient";
  try {
    (void)bad.verify_options();
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("reward.extraction"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace popo
