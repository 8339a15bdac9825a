// reward/reward_set.h: the run's reward functions as one scorer: the weighted sum against
// hand-computed totals, the per-rollout metrics of a command, the arithmetic kind's exact-integer
// rule, and the config checks of reward.functions.
#include "reward/reward_set.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>

#include "core/error.h"
#include "core/io.h"
#include "reward/reward_command.h"

namespace popo {
namespace {

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(RewardSet, ArithmeticIsAnExactIntegerMatch) {
  const struct {
    const char* response;
    const char* gold;
    double want;
  } table[] = {
      {"5*3=15. 15+9=24. \\boxed{24}", "24", 1},
      {"\\boxed{024}", "24", 1},            // leading zeros
      {"\\boxed{+24}", "24", 1},
      {"\\boxed{-3}", "-3", 1},
      {"\\boxed{-0}", "0", 1},
      {"so it is 7", "7", 1},               // unboxed: the last integer
      {"7 then 8", "7", 0},
      {"\\boxed{24.0}", "24", 0},           // no symbolic step: 24.0 is not the integer 24
      {"\\boxed{\\frac{48}{2}}", "24", 0},
      {"\\boxed{3}", "3/1", 0},             // a gold that is not an integer matches nothing
      {"no number", "1", 0},
      {"\\boxed{12} and later 13", "12", 1},  // the box wins over later numbers
  };
  for (const auto& t : table)
    EXPECT_EQ(arithmetic_reward(t.response, t.gold), t.want) << t.response << " vs " << t.gold;
}

TEST(RewardSet, WeightedSumOfBuiltInsAndACommand) {
  const std::string script =
      (std::filesystem::temp_directory_path() / ("popo_reward_set_" + std::to_string(::getpid()) + ".py")).string();
  // reward = number of characters of the response, metric "twice" = 2 x that.
  write_file_atomic(script,
                    "import json, sys\n"
                    "for line in sys.stdin:\n"
                    "    r = json.loads(line)\n"
                    "    n = len(r['response'])\n"
                    "    print(json.dumps({'id': r['id'], 'reward': n, 'metrics': {'twice': 2 * n}}), flush=True)\n");
  RewardConfig cfg;
  RewardFunctionConfig math, fmt, len, arith;
  fmt.name = "fmt";
  fmt.kind = RewardKind::kFormat;
  fmt.weight = 0.5;
  len.name = "len";
  len.kind = RewardKind::kCommand;
  len.weight = -0.1;
  len.command.words = {"python3", script};
  arith.name = "arith";
  arith.kind = RewardKind::kArithmetic;
  arith.weight = 0;  // logged only
  cfg.functions = {math, fmt, len, arith};
  RewardSet set(cfg);
  EXPECT_EQ(set.names(), (std::vector<std::string>{"correct", "fmt", "len", "arith"}));
  std::vector<RewardInput> in(3);
  in[0].response = "\\boxed{4}";     // right, formatted: 1 + 0.5 - 0.9
  in[1].response = "4 \\boxed{5}";   // wrong, formatted: 0 + 0.5 - 1.1
  in[2].response = "so it is $\\frac{8}{2}$";  // right by the verifier, unboxed, last integer 2
  for (size_t i = 0; i < in.size(); ++i) {
    in[i].id = "r" + std::to_string(i);
    in[i].answer = "4";
  }
  const RewardScores s = set.score(in);
  ASSERT_EQ(s.total.size(), 3u);
  EXPECT_FLOAT_EQ(s.total[0], 1.0f + 0.5f - 0.9f);
  EXPECT_FLOAT_EQ(s.total[1], 0.5f - 1.1f);
  EXPECT_FLOAT_EQ(s.total[2], 1.0f - 2.2f);
  ASSERT_EQ(s.values.size(), 4u);
  EXPECT_EQ(s.values[0].second, (std::vector<double>{1, 0, 1}));
  EXPECT_EQ(s.values[1].second, (std::vector<double>{1, 1, 0}));
  EXPECT_EQ(s.values[2].second, (std::vector<double>{9, 11, 22}));
  EXPECT_EQ(s.values[3].second, (std::vector<double>{1, 0, 0}));
  ASSERT_EQ(s.metrics.size(), 3u);
  EXPECT_EQ(s.metrics[1], (std::vector<std::pair<std::string, double>>{{"len/twice", 22}}));
  // The same process answers the next batch.
  EXPECT_EQ(set.score({in[0]}).values[2].second, (std::vector<double>{9}));
  std::filesystem::remove(script);
}

TEST(RewardSet, ConfigChecksNameTheKey) {
  auto check = [](const std::function<void(RewardConfig&)>& edit) {
    RewardConfig c;
    edit(c);
    return error_of([&] { validate(c); });
  };
  EXPECT_EQ(check([](RewardConfig&) {}), "");
  EXPECT_NE(check([](RewardConfig& c) { c.functions.clear(); }).find("reward.functions is empty"),
            std::string::npos);
  EXPECT_NE(check([](RewardConfig& c) { c.functions.push_back(c.functions[0]); })
                .find("reward.functions[1].name: 'correct' is used by an earlier function"),
            std::string::npos);
  EXPECT_NE(check([](RewardConfig& c) { c.functions[0].name = "a b"; }).find("reward.functions[0].name"),
            std::string::npos);
  EXPECT_NE(check([](RewardConfig& c) { c.functions[0].name = "mean"; }).find("taken by a built-in metric"),
            std::string::npos);
  EXPECT_NE(check([](RewardConfig& c) { c.functions[0].kind = RewardKind::kCommand; })
                .find("reward.functions[0].command is empty"),
            std::string::npos);
  EXPECT_NE(check([](RewardConfig& c) { c.functions[0].command.words = {"x"}; })
                .find("reward.functions[0].command is set but kind is math"),
            std::string::npos);
  EXPECT_NE(check([](RewardConfig& c) { c.functions[0].weight = NAN; }).find("reward.functions[0].weight"),
            std::string::npos);
  EXPECT_NE(check([](RewardConfig& c) { c.timeout_s = -1; }).find("reward.timeout_s"), std::string::npos);
}


TEST(RewardSet, TimeoutReachesTheCommand) {
  // reward.timeout_s is what a silent command gets: 0.5 s here against a command that never
  // answers (the default of 60 s would hold the test for a minute).
  RewardConfig cfg;
  RewardFunctionConfig slow;
  slow.name = "slow";
  slow.kind = RewardKind::kCommand;
  slow.command.words = {"sleep", "30"};
  cfg.functions = {slow};
  cfg.timeout_s = 0.5;
  RewardSet set(cfg);
  std::vector<RewardInput> in(1);
  in[0].id = "only";
  const auto t0 = std::chrono::steady_clock::now();
  std::string message;
  try {
    set.score(in);
  } catch (const RewardCommandError& e) {
    message = e.what();
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(message.find("slow"), std::string::npos) << message;
  EXPECT_NE(message.find("only"), std::string::npos) << message;
  EXPECT_LT(secs, 10.0);
}

}  // namespace
}  // namespace popo
