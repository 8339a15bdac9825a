// Small ASCII string helpers shared by the torch-free layers.
#pragma once

#include <string>

namespace popo {

// Returns true for the ASCII whitespace bytes of the C locale: space, \t, \n, \v, \f, \r.
inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// Returns s without leading and trailing ASCII whitespace.
inline std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

}  // namespace popo
