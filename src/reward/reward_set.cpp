// The run's reward functions as one scorer (reward/reward_set.h).
#include "reward/reward_set.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/error.h"
#include "reward/answer_extract.h"
#include "reward/reward_command.h"

namespace popo {

void validate(const RewardConfig& cfg) {
  POPO_CHECK(!cfg.functions.empty(), "config: reward.functions is empty (expected at least one, "
             "e.g. [{name: correct, kind: math, weight: 1}])");
  POPO_CHECK(std::isfinite(cfg.timeout_s) && cfg.timeout_s >= 0,
             "config: reward.timeout_s must be >= 0 (0 = no limit), got ", cfg.timeout_s);
  std::set<std::string> seen;
  for (size_t i = 0; i < cfg.functions.size(); ++i) {
    const RewardFunctionConfig& f = cfg.functions[i];
    const std::string key = "reward.functions[" + std::to_string(i) + "]";
    bool ok = !f.name.empty();
    for (char c : f.name) {
      ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.');
    }
    POPO_CHECK(ok, "config: ", key, ".name: expected a non-empty name of letters, digits, '_', "
               "'-' or '.' (it becomes the metric reward/<name>), got '", f.name, "'");
    POPO_CHECK(f.name != "mean" && f.name != "pass_rate" && f.name.rfind("frac_", 0) != 0,
               "config: ", key, ".name: '", f.name, "' is taken by a built-in metric (reward/",
               f.name, "); pick another name");
    POPO_CHECK(seen.insert(f.name).second, "config: ", key, ".name: '", f.name,
               "' is used by an earlier function; names must be unique");
    POPO_CHECK(std::isfinite(f.weight), "config: ", key, ".weight must be finite, got ", f.weight);
    if (f.kind == RewardKind::kCommand) {
      POPO_CHECK(!f.command.words.empty(), "config: ", key, ".command is empty: kind command "
                 "needs the program to run, e.g. \"python3 my_reward.py\"");
    } else {
      POPO_CHECK(f.command.words.empty(), "config: ", key, ".command is set but kind is ",
                 enum_name(f.kind), " (only kind command runs a command)");
    }
  }
}

double arithmetic_reward(const std::string& response, const std::string& gold) {
  // The integer in a string: optional sign, digits, nothing else (spaces around aside).
  auto parse = [](std::string s, std::string* out) {
    size_t b = s.find_first_not_of(" \t\n"), e = s.find_last_not_of(" \t\n");
    if (b == std::string::npos) return false;
    s = s.substr(b, e - b + 1);
    bool neg = false;
    size_t i = 0;
    if (s[0] == '-' || s[0] == '+') neg = s[0] == '-', i = 1;
    if (i >= s.size()) return false;
    for (size_t j = i; j < s.size(); ++j)
      if (s[j] < '0' || s[j] > '9') return false;
    const size_t nz = s.find_first_not_of('0', i);
    const std::string digits = nz == std::string::npos ? "0" : s.substr(nz);
    *out = (neg && digits != "0" ? "-" : "") + digits;
    return true;
  };
  std::string g, p;
  if (!parse(gold, &g)) return 0.0;
  std::string pred = last_boxed_content(response);
  if (pred.empty()) {  // no box: the last integer of the response
    size_t e = response.find_last_of("0123456789");
    if (e == std::string::npos) return 0.0;
    size_t b = e;
    while (b > 0 && response[b - 1] >= '0' && response[b - 1] <= '9') --b;
    if (b > 0 && response[b - 1] == '-') --b;
    pred = response.substr(b, e - b + 1);
  }
  return parse(pred, &p) && p == g ? 1.0 : 0.0;
}

RewardSet::RewardSet(const RewardConfig& cfg) : cfg_(cfg) {
  validate(cfg_);
  verify_ = cfg_.verify_options();
  for (const RewardFunctionConfig& f : cfg_.functions) {
    if (f.kind == RewardKind::kCommand) {
      commands_.push_back(std::make_unique<CommandReward>(f.name, f.command.words, cfg_.timeout_s));
    } else {
      commands_.push_back(nullptr);
    }
  }
}

RewardSet::~RewardSet() = default;

std::vector<std::string> RewardSet::names() const {
  std::vector<std::string> out;
  for (const RewardFunctionConfig& f : cfg_.functions) out.push_back(f.name);
  return out;
}

RewardScores RewardSet::score(const std::vector<RewardInput>& rollouts) {
  const size_t n = rollouts.size();
  RewardScores out;
  out.total.assign(n, 0.0f);
  out.metrics.resize(n);
  std::vector<double> total(n, 0.0);
  for (size_t k = 0; k < cfg_.functions.size(); ++k) {
    const RewardFunctionConfig& f = cfg_.functions[k];
    std::vector<double> v(n, 0.0);
    switch (f.kind) {
      case RewardKind::kMath:
        for (size_t i = 0; i < n; ++i) v[i] = math_reward(rollouts[i].response, rollouts[i].answer, verify_);
        break;
      case RewardKind::kArithmetic:
        for (size_t i = 0; i < n; ++i) v[i] = arithmetic_reward(rollouts[i].response, rollouts[i].answer);
        break;
      case RewardKind::kFormat:
        for (size_t i = 0; i < n; ++i) v[i] = format_reward(rollouts[i].response);
        break;
      case RewardKind::kCommand: {
        std::vector<CommandRequest> req(n);
        for (size_t i = 0; i < n; ++i) {
          req[i].id = rollouts[i].id;
          req[i].prompt = rollouts[i].prompt;
          req[i].response = rollouts[i].response;
          req[i].answer = rollouts[i].answer;
          req[i].metadata = rollouts[i].metadata;
        }
        const std::vector<CommandReply> rep = commands_[k]->score(req);
        for (size_t i = 0; i < n; ++i) {
          v[i] = rep[i].reward;
          for (const auto& [key, value] : rep[i].metrics) out.metrics[i].emplace_back(f.name + "/" + key, value);
        }
        break;
      }
    }
    for (size_t i = 0; i < n; ++i) total[i] += f.weight * v[i];
    out.values.emplace_back(f.name, std::move(v));
  }
  for (size_t i = 0; i < n; ++i) out.total[i] = static_cast<float>(total[i]);
  return out;
}

}  // namespace popo
