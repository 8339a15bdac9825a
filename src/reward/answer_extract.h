// Final-answer extraction from a model response: the last \boxed{...} / \fbox{...} (brace-matched,
// nested braces kept, also `\boxed 5`), else an "answer is X" / "answer: X" / "#### X" phrase,
// else (GSM8K-style tasks only) the last number. Linear-time scanning, no regex, so a 1 MB
// response costs one pass. What it does not do: normalise the answer (math_normalize.h) or judge
// it (math_verifier.h). Mirrors Hendrycks' last_boxed_only_string and the Qwen2.5-Math fallbacks.
#pragma once

#include <string>

namespace popo {

enum class ExtractRule { kNone, kBoxed, kAnswerIs, kLastNumber };

struct Extraction {
  std::string answer;                    // the extracted text, trimmed; "" when rule == kNone
  ExtractRule rule = ExtractRule::kNone;  // which rule fired
};

// Returns the final answer of a response and the rule that found it. allow_last_number enables
// the last-number fallback (GSM8K-style numeric tasks). Never throws.
Extraction extract_answer(const std::string& response, bool allow_last_number);

// Returns the content of the last complete \boxed{...} or \fbox{...} in s ("" if none).
std::string last_boxed_content(const std::string& s);

// Returns "none" | "boxed" | "answer_is" | "last_number".
const char* rule_name(ExtractRule rule);

}  // namespace popo
