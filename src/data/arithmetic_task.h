// The built-in arithmetic task of the demo run: expressions of + - * over small integers with
// verifiable integer answers and a short worked solution ("5*3=15. 17+15=32. 32-8=24. \boxed{24}")
// that a tiny model can learn by supervised warm-start. Generation is deterministic from a seed
// (core/rng.h, not <random>), and the held-out split is a fixed hash partition of expression texts,
// so held-out problems never occur in training, whatever the seeds and counts. No division, no
// parentheses, no negative operands.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace popo {

struct ArithmeticConfig {
  int min_ops = 1;                // fewest operators per expression (>= 1)
  int max_ops = 3;                // most operators per expression
  int min_digits = 1;             // fewest digits per operand (1-digit operands include 0)
  int max_digits = 2;             // most digits per operand (<= 9)
  int max_mul_digits = 1;         // digit cap for operands next to '*'; 0 = no extra cap
  std::string operators = "+-*";  // operators drawn uniformly, any non-empty subset of "+-*"
  double heldout_fraction = 0.1;  // share of expressions reserved for held-out; 0 = none

  template <class V>
  void visit_fields(V& v) {
    v("min_ops", min_ops, "fewest operators per expression (>= 1)");
    v("max_ops", max_ops, "most operators per expression");
    v("min_digits", min_digits, "fewest digits per operand (1-digit operands include 0)");
    v("max_digits", max_digits, "most digits per operand (<= 9)");
    v("max_mul_digits", max_mul_digits, "digit cap for operands next to '*'; 0 = no extra cap");
    v("operators", operators, "operators drawn uniformly, a non-empty subset of \"+-*\"");
    v("heldout_fraction", heldout_fraction,
      "share of all expressions reserved for held-out evaluation (hash partition); 0 = none");
  }
};

enum class ArithmeticSplit { kTrain, kHeldout };

struct ArithmeticProblem {
  std::string id;        // "arith-" + 16 hex digits of the expression's hash (stable across runs)
  std::string prompt;    // "Compute 17+5*3-8."
  std::string answer;    // "24"
  std::string solution;  // "5*3=15. 17+15=32. 32-8=24. \boxed{24}"
};

// Throws popo::Error naming the field if cfg is out of range.
void validate(const ArithmeticConfig& cfg);

// Returns count distinct problems of the split, drawn deterministically from seed (the train and
// held-out splits use different seed streams). Throws popo::Error if the configured space holds
// fewer than count distinct problems of that split.
std::vector<ArithmeticProblem> make_arithmetic_problems(
    const ArithmeticConfig& cfg, int count, uint64_t seed,
    ArithmeticSplit split = ArithmeticSplit::kTrain);

// Returns the problem for an expression such as "17+5*3-8" (non-negative integer operands, + - *).
// Multiplications are worked first, left to right, then additions and subtractions left to right.
// Throws popo::Error on a malformed expression or on int64 overflow.
ArithmeticProblem arithmetic_problem_from_expression(const std::string& expression);

// Returns true if the expression belongs to the held-out split for this fraction.
bool is_heldout_expression(const std::string& expression, double heldout_fraction);

// Returns texts covering everything the demo tokenizer must encode for this task: digits,
// operators, the prompt and solution wording, "\boxed{...}", followed by num_examples sampled
// "prompt solution" texts so BPE merges follow realistic frequencies.
std::vector<std::string> arithmetic_corpus(const ArithmeticConfig& cfg, int num_examples = 2000,
                                           uint64_t seed = 0);

}  // namespace popo
