#include "data/arithmetic_task.h"

#include <algorithm>
#include <cstdio>
#include <unordered_set>

#include "core/error.h"
#include "core/rng.h"

namespace popo {

namespace {

constexpr const char* kPromptPrefix = "Compute ";

int64_t ipow10(int d) {
  int64_t p = 1;
  while (d-- > 0) p *= 10;
  return p;
}

// Returns a op b, or false on int64 overflow.
bool apply_op(char op, int64_t a, int64_t b, int64_t* out) {
  switch (op) {
    case '+':
      return !__builtin_add_overflow(a, b, out);
    case '-':
      return !__builtin_sub_overflow(a, b, out);
    case '*':
      return !__builtin_mul_overflow(a, b, out);
  }
  return false;
}

struct Parsed {
  std::vector<int64_t> operands;
  std::vector<char> ops;
};

Parsed parse_expression(const std::string& e) {
  Parsed p;
  size_t i = 0;
  for (;;) {
    POPO_CHECK(i < e.size() && e[i] >= '0' && e[i] <= '9', "arithmetic: expression '", e,
               "': expected a digit at position ", i);
    int64_t v = 0;
    while (i < e.size() && e[i] >= '0' && e[i] <= '9') {
      POPO_CHECK(!__builtin_mul_overflow(v, int64_t{10}, &v) &&
                     !__builtin_add_overflow(v, int64_t{e[i] - '0'}, &v),
                 "arithmetic: expression '", e, "': operand too large");
      ++i;
    }
    p.operands.push_back(v);
    if (i == e.size()) break;
    POPO_CHECK(e[i] == '+' || e[i] == '-' || e[i] == '*', "arithmetic: expression '", e,
               "': expected + - or * at position ", i, ", got '", e[i], "'");
    p.ops.push_back(e[i++]);
  }
  return p;
}

// Returns the problem for a parsed expression; false on overflow.
bool solve(const std::string& expr, const Parsed& p, ArithmeticProblem* out) {
  std::string steps;
  auto step = [&](int64_t a, char op, int64_t b, int64_t r) {
    steps += std::to_string(a) + op + std::to_string(b) + "=" + std::to_string(r) + ". ";
  };
  // Pass 1: collapse each run of '*' left to right into one term.
  std::vector<int64_t> terms{p.operands[0]};
  std::vector<char> add_ops;
  for (size_t k = 0; k < p.ops.size(); ++k) {
    const int64_t b = p.operands[k + 1];
    if (p.ops[k] == '*') {
      int64_t r;
      if (!apply_op('*', terms.back(), b, &r)) return false;
      step(terms.back(), '*', b, r);
      terms.back() = r;
    } else {
      add_ops.push_back(p.ops[k]);
      terms.push_back(b);
    }
  }
  // Pass 2: additions and subtractions left to right.
  int64_t acc = terms[0];
  for (size_t k = 0; k < add_ops.size(); ++k) {
    int64_t r;
    if (!apply_op(add_ops[k], acc, terms[k + 1], &r)) return false;
    step(acc, add_ops[k], terms[k + 1], r);
    acc = r;
  }
  char id[32];
  std::snprintf(id, sizeof id, "arith-%016llx", static_cast<unsigned long long>(fnv1a64(expr)));
  out->id = id;
  out->prompt = kPromptPrefix + expr + ".";
  out->answer = std::to_string(acc);
  out->solution = steps + "\\boxed{" + out->answer + "}";
  return true;
}

int64_t draw_operand(Rng& rng, int min_digits, int max_digits) {
  const int d = static_cast<int>(rng.uniform_int(min_digits, max_digits));
  const int64_t lo = d == 1 ? 0 : ipow10(d - 1);
  return rng.uniform_int(lo, ipow10(d) - 1);
}

// Returns a random expression text drawn from cfg.
std::string draw_expression(const ArithmeticConfig& cfg, Rng& rng) {
  const int n_ops = static_cast<int>(rng.uniform_int(cfg.min_ops, cfg.max_ops));
  std::vector<char> ops(n_ops);
  for (char& op : ops) op = cfg.operators[rng.uniform_below(cfg.operators.size())];
  std::string e;
  for (int i = 0; i <= n_ops; ++i) {
    const bool near_mul = (i > 0 && ops[i - 1] == '*') || (i < n_ops && ops[i] == '*');
    int hi = cfg.max_digits;
    if (near_mul && cfg.max_mul_digits > 0) hi = std::min(hi, cfg.max_mul_digits);
    const int lo = std::min(cfg.min_digits, hi);
    e += std::to_string(draw_operand(rng, lo, hi));
    if (i < n_ops) e += ops[i];
  }
  return e;
}

}  // namespace

void validate(const ArithmeticConfig& c) {
  POPO_CHECK(c.min_ops >= 1, "arithmetic: min_ops must be >= 1, got ", c.min_ops);
  POPO_CHECK(c.max_ops >= c.min_ops, "arithmetic: max_ops must be >= min_ops (", c.min_ops,
             "), got ", c.max_ops);
  POPO_CHECK(c.max_ops <= 64, "arithmetic: max_ops must be <= 64, got ", c.max_ops);
  POPO_CHECK(c.min_digits >= 1, "arithmetic: min_digits must be >= 1, got ", c.min_digits);
  POPO_CHECK(c.max_digits >= c.min_digits && c.max_digits <= 9,
             "arithmetic: max_digits must be in [min_digits, 9], got ", c.max_digits);
  POPO_CHECK(c.max_mul_digits >= 0, "arithmetic: max_mul_digits must be >= 0, got ",
             c.max_mul_digits);
  POPO_CHECK(!c.operators.empty() && c.operators.find_first_not_of("+-*") == std::string::npos,
             "arithmetic: operators must be a non-empty subset of \"+-*\", got \"", c.operators,
             "\"");
  POPO_CHECK(c.heldout_fraction >= 0 && c.heldout_fraction <= 1,
             "arithmetic: heldout_fraction must be in [0, 1], got ", c.heldout_fraction);
}

bool is_heldout_expression(const std::string& expression, double heldout_fraction) {
  const uint64_t h = mix64(fnv1a64(expression));
  return static_cast<double>(h >> 11) * 0x1.0p-53 < heldout_fraction;
}

ArithmeticProblem arithmetic_problem_from_expression(const std::string& expression) {
  ArithmeticProblem p;
  POPO_CHECK(solve(expression, parse_expression(expression), &p), "arithmetic: expression '",
             expression, "' overflows int64");
  return p;
}

std::vector<ArithmeticProblem> make_arithmetic_problems(const ArithmeticConfig& cfg, int count,
                                                        uint64_t seed, ArithmeticSplit split) {
  validate(cfg);
  POPO_CHECK(count >= 0, "arithmetic: count must be >= 0, got ", count);
  const bool want_heldout = split == ArithmeticSplit::kHeldout;
  Rng rng(derive_seed(seed, want_heldout ? "arithmetic.heldout" : "arithmetic.train", 0));
  std::vector<ArithmeticProblem> out;
  std::unordered_set<std::string> seen;
  const int64_t max_draws = 200 * static_cast<int64_t>(count) + 20000;
  for (int64_t draw = 0; static_cast<int>(out.size()) < count; ++draw) {
    POPO_CHECK(draw < max_draws, "arithmetic: found only ", out.size(), " distinct ",
               want_heldout ? "held-out" : "training", " problems of the ", count,
               " asked for after ", max_draws,
               " draws; widen the task (max_ops, max_digits, heldout_fraction) or ask for fewer");
    const std::string e = draw_expression(cfg, rng);
    if (is_heldout_expression(e, cfg.heldout_fraction) != want_heldout) continue;
    if (!seen.insert(e).second) continue;
    ArithmeticProblem p;
    if (!solve(e, parse_expression(e), &p)) continue;  // int64 overflow: draw again
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<std::string> arithmetic_corpus(const ArithmeticConfig& cfg, int num_examples,
                                           uint64_t seed) {
  std::vector<std::string> texts = {
      "0 1 2 3 4 5 6 7 8 9", "+ - * = .",   kPromptPrefix, "Compute 1+2.",
      "1+2=3. \\boxed{3}",   "\\boxed{-5}", "-1-2=-3. "};
  validate(cfg);
  // Repeats are fine here (a small task may hold fewer distinct problems than num_examples).
  Rng rng(derive_seed(seed, "arithmetic.corpus", 0));
  for (int64_t draw = 0, kept = 0; kept < num_examples && draw < 100 * int64_t{num_examples} + 1000;
       ++draw) {
    const std::string e = draw_expression(cfg, rng);
    ArithmeticProblem p;
    if (is_heldout_expression(e, cfg.heldout_fraction) || !solve(e, parse_expression(e), &p))
      continue;
    texts.push_back(p.prompt + " " + p.solution);
    ++kept;
  }
  return texts;
}

}  // namespace popo
