// The reward functions of a run (reward.functions, reward/reward_config.h) as one scorer: each
// step's rollouts go to every function (the built-ins in process, each command reward as one
// batch to its long-lived process), and each rollout's reward is the weighted sum. Also the
// per-function means the trainer logs (reward/<name>, and reward/<name>/<key> for a command's
// extra metrics). Torch-free; not thread-safe (one scorer per trainer).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "reward/reward_config.h"

namespace popo {

class CommandReward;

// One rollout to reward.
struct RewardInput {
  std::string id;        // unique within a step (the request id a command sees)
  std::string prompt;    // the prompt text the model saw
  std::string response;  // the decoded response
  std::string answer;    // the gold answer
  nlohmann::json metadata = nlohmann::json::object();  // the problem's other dataset fields
};

struct RewardScores {
  std::vector<float> total;  // (N) the weighted sum, per rollout
  // Per function, in config order: (name, values over the N rollouts).
  std::vector<std::pair<std::string, std::vector<double>>> values;
  // (N) per rollout, the extra metrics of the command rewards: ("<name>/<key>", value).
  std::vector<std::vector<std::pair<std::string, double>>> metrics;

  // A metric's sum over the rollouts that reported it (what a mean is taken from).
  struct Extra {
    std::string key;
    double sum = 0;
    int64_t count = 0;
  };
};

class RewardSet {
 public:
  // Validates cfg (validate(), reward_config.h) and starts every command reward; the math kind
  // grades with cfg.verify_options(). Throws popo::Error naming the function when a command
  // does not start.
  explicit RewardSet(const RewardConfig& cfg);
  ~RewardSet();
  RewardSet(const RewardSet&) = delete;
  RewardSet& operator=(const RewardSet&) = delete;

  // Returns the rewards of the rollouts. A command's fault throws RewardCommandError
  // (reward/reward_command.h) naming the function, the command and the request.
  RewardScores score(const std::vector<RewardInput>& rollouts);

  // Returns the function names, in config order.
  std::vector<std::string> names() const;

 private:
  RewardConfig cfg_;
  VerifyOptions verify_;
  std::vector<std::unique_ptr<CommandReward>> commands_;  // one per function (null: built-in)
};

// Returns 1 when the response's last \boxed{} (or, with none, its last integer) is an integer
// equal to the integer gold answer (leading '+' and zeros aside), else 0: the arithmetic kind.
double arithmetic_reward(const std::string& response, const std::string& gold);

}  // namespace popo
