// Final-answer extraction from a model response, in Math-Verify's order (docs/VERIFIER.md §2):
// boxed answers and "final answer is X" first, then "final answer ... is X", "answer: X",
// "answer ... X", and last any LaTeX environment ($..$, $$..$$, \(..\), \[..\]) or plain number /
// arithmetic expression, the one ending rightmost winning. Several boxes close together, or
// environments / numbers joined by `,` `and` `or`, become one list, so a hedge ("3 or 5") is a set
// and never equals a single gold. ExtractMode::kBoxed is the strict boxed-only grading. Golds go
// through extract_gold(): bare LaTeX is the answer itself. Linear scans, no regex: a 1 MB response
// costs a few passes. What it does not do: normalise (math_normalize.h) or judge (math_verifier.h).
#pragma once

#include <string>

namespace popo {

// Which extraction grades a response (config key reward.extraction).
enum class ExtractMode {
  kMathVerify,  // "math_verify": Math-Verify's priorities and fallbacks (default)
  kBoxed,       // "boxed": only \boxed{} / \fbox{} answers count (DeepScaleR-style recipes)
};

enum class ExtractRule {
  kNone,        // nothing found
  kBoxed,       // \boxed{..} / \fbox{..} (one or several)
  kAnswerIs,    // after "final answer is", "answer:", "answer ... "
  kLatex,       // the last LaTeX environment of the text
  kLastNumber,  // the rightmost plain number or arithmetic expression
  kWhole,       // the gold itself, read as bare LaTeX
};

struct Extraction {
  std::string answer;                    // the extracted text, trimmed; several items joined by ','
  ExtractRule rule = ExtractRule::kNone;  // which rule fired
  int items = 0;                         // candidates joined into answer (>= 2: a list)
};

// Returns the final answer of a response and the rule that found it. In kBoxed mode only boxes
// count, plus the last number when allow_last_number (GSM8K-style "#### 72"). Never throws.
Extraction extract_answer(const std::string& response, ExtractMode mode, bool allow_last_number);

// Returns the answer of a gold string: its box when it has one, the extraction of a response when
// it has math delimiters or reads as a sentence, else the whole gold as bare LaTeX. Never throws.
Extraction extract_gold(const std::string& gold);

// Returns the content of the last complete \boxed{...} or \fbox{...} in s ("" if none).
std::string last_boxed_content(const std::string& s);

// Returns "none" | "boxed" | "answer_is" | "latex" | "last_number" | "whole".
const char* rule_name(ExtractRule rule);

// Returns "math_verify" | "boxed".
const char* extract_mode_name(ExtractMode mode);

// Returns the mode named by `name`; throws popo::Error naming `key` when it is neither.
ExtractMode parse_extract_mode(const std::string& name, const std::string& key);

}  // namespace popo
