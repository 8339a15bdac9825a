// Section `reward` of a run config: how a rollout is rewarded. The step's reward of a rollout is
// the weighted sum of `reward.functions` (TRL's reward_funcs + reward_weights, verl's
// custom_reward_function): the built-in math verifier, the exact-integer arithmetic check, the
// one-\boxed{} format check, or a command speaking JSON lines (reward/reward_command.h).
// `reward.extraction` sets how the math verifier reads a response; the trainer's rollout rewards
// and held-out accuracy, `popo eval` and `popo verify` all grade through verify_options(), so
// one setting means one grading everywhere. The held-out accuracy is always the math verifier's
// verdict, whatever the functions. Torch-free.
#pragma once

#include <string>
#include <vector>

#include "core/config.h"
#include "reward/math_verifier.h"

namespace popo {

// What one reward function computes:
//   math        1 when the math verifier (reward/math_verifier.h, reward.extraction) says the
//               response's answer equals the gold answer, else 0;
//   arithmetic  1 when the response's last \boxed{} (or, unboxed, its last integer) is an
//               integer equal to the gold integer, compared exactly (no symbolic step), else 0;
//   format      1 when the response ends with exactly one \boxed{...} (reward/reward_command.h's
//               format_reward), else 0;
//   command     the reply of an external program (reward/reward_command.h).
enum class RewardKind : int { kMath, kArithmetic, kFormat, kCommand };
inline const std::vector<const char*>& enum_names(RewardKind) {
  static const std::vector<const char*> names = {"math", "arithmetic", "format", "command"};
  return names;
}

// One entry of reward.functions.
struct RewardFunctionConfig {
  std::string name = "correct";
  RewardKind kind = RewardKind::kMath;
  double weight = 1.0;
  CommandLine command;

  template <class V>
  void visit_fields(V& v) {
    v("name", name, "logged as reward/<name> (its mean over the step's rollouts); unique");
    v("kind", kind, "math | arithmetic | format | command");
    v("weight", weight, "weight in the step's reward (0 = logged only)");
    v("command", command,
      "kind command: the program and its arguments (a shell-split string or a list), started "
      "once, JSON lines on stdin/stdout (examples/rewards/README.md)");
  }
};

struct RewardConfig {
  // math_verify: Math-Verify's extraction order and fallbacks (docs/VERIFIER.md); boxed: only
  // \boxed{} / \fbox{} answers count (DeepScaleR-style recipes give 0 to unboxed answers).
  std::string extraction = "math_verify";
  std::vector<RewardFunctionConfig> functions = {RewardFunctionConfig{}};  // correct: math, 1
  double timeout_s = 60.0;

  template <class V>
  void visit_fields(V& v) {
    v("extraction", extraction,
      "answer extraction: math_verify (Math-Verify's order and fallbacks) | boxed (only \\boxed{} "
      "answers count)");
    v("functions", functions,
      "reward functions: the step's reward is the weighted sum (default: one math verifier)");
    v("timeout_s", timeout_s,
      "a command reward silent this long while a step waits on it is a fault (0 = no limit)");
  }

  // Returns the verifier options of this section; throws popo::Error naming reward.extraction
  // when it is neither math_verify nor boxed.
  VerifyOptions verify_options() const {
    VerifyOptions o;
    o.extraction = parse_extract_mode(extraction, "reward.extraction");
    return o;
  }
};

// Checks the functions: at least one, unique non-empty names (letters, digits, '_', '-', '.'),
// finite weights, a command for kind command and none for the others, timeout_s >= 0. Throws
// popo::Error naming the key (reward.functions[i].name, ...) and the value.
void validate(const RewardConfig& cfg);

}  // namespace popo
