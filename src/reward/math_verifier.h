// The math reward: extract the final answer of a response and of the gold (answer_extract.h),
// normalise both (math_normalize.h) and decide equality in order (docs/VERIFIER.md): exact
// string; assignments and relations (x = 5, x \in S, 1 < x < 2 against an interval); numeric
// (exact numbers exactly, decimals by Math-Verify's rounding to 6 places applied to both sides,
// percent against the number or its hundredth); ordered tuples, unordered sets and lists,
// intervals with open / closed ends, unions, matrices; equations a = b (same sides, or a - b a
// nonzero multiple of c - d); symbolic equality with GiNaC (latex_expr.h). A list never equals a
// single value, so a hedged response ("3 or 5") scores 0. Every call is bounded: input-length cap,
// nesting and size caps in the parser, exponent guards, and a wall-clock budget checked between
// steps. It never throws and is thread-safe. Mirrors Hendrycks' is_equiv and the
// Qwen2.5-Math / math-verify grading ideas, written from scratch.
#pragma once

#include <cstddef>
#include <string>

#include "reward/answer_extract.h"

namespace popo {

enum class Verdict { kCorrect, kIncorrect, kNoAnswer };

struct VerifyOptions {
  ExtractMode extraction = ExtractMode::kMathVerify;  // reward.extraction: math_verify | boxed
  bool allow_last_number = false;  // boxed mode: fall back to the last number (GSM8K-style)
  int float_rounding = 6;          // decimals both sides are rounded to when either is a decimal
  double rel_tol = 0;              // extra relative tolerance of numeric comparisons; 0 = off
  int max_ms = 2000;               // wall-clock budget of one comparison
  size_t max_input = 1 << 20;      // longer responses / answers are judged incorrect unread
};

struct VerifyResult {
  Verdict verdict = Verdict::kNoAnswer;
  Extraction extracted;
  // "exact" | "numeric" | "tuple" | "set" | "interval" | "matrix" | "symbolic" | "equation" | ""
  std::string decided_by;
  std::string reason;  // why it was judged incorrect / no answer ("" when correct)
};

struct Equivalence {
  bool equal = false;
  std::string decided_by;  // as in VerifyResult
  std::string reason;      // when not equal: which stage said so, or which limit refused it
};

// Returns the full comparison of a gold answer and a predicted answer (both raw strings).
Equivalence compare_answers(const std::string& gold, const std::string& pred,
                            const VerifyOptions& opt);

// Returns true if pred is equivalent to gold; *decided_by names the deciding stage.
bool answers_equivalent(const std::string& gold, const std::string& pred,
                        const VerifyOptions& opt, std::string* decided_by = nullptr);

// Returns the verdict on a whole model response against the gold (read by extract_gold: bare
// LaTeX, or a box / delimited math / a sentence). Never throws.
VerifyResult verify(const std::string& response, const std::string& gold,
                    const VerifyOptions& opt = {});

// Returns "correct" | "incorrect" | "no_answer".
const char* verdict_name(Verdict v);

// Returns the reward of one response: 1 when verify() says correct, else 0.
inline double math_reward(const std::string& response, const std::string& gold,
                          const VerifyOptions& opt) {
  return verify(response, gold, opt).verdict == Verdict::kCorrect ? 1.0 : 0.0;
}

}  // namespace popo
