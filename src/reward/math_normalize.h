// Canonical string form of a math answer, Hendrycks-MATH style (strip_string) and beyond: drops
// $ / \$, \left / \right, spacing commands, degrees, percent, \text{} / \mbox{} / \mathrm{}
// wrappers and unit words around a number, thousands separators, leading zeros and trailing
// ".0"; rewrites \dfrac / \tfrac to \frac and \frac12 to \frac{1}{2}; removes spaces. What it
// does not do: decide equality of different forms (math_verifier.h does, numerically and
// symbolically). Pure string code, linear passes, no regex, thread-safe.
#pragma once

#include <string>

namespace popo {

// Returns the canonical form of an answer string (may be "" for an empty answer).
std::string normalize_answer(const std::string& s);

// Returns true if the raw answer says it is a percentage (\%, %, "percent").
bool mentions_percent(const std::string& s);

// Returns s with every \cmd{X} (cmd in \text, \textbf, \mbox, \mathrm, \mathbf, ...) replaced by X.
std::string unwrap_text_commands(const std::string& s);

}  // namespace popo
