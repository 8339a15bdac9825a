// Shared by the libFuzzer targets (fuzz/README.md): the one rule every target checks besides its
// own properties. Bad input may only ever end in popo::Error (the clear, named error the program
// prints); any other exception escaping the parser, a crash, a sanitizer report or a hang is a
// finding.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <typeinfo>
#include <utility>

#include "core/error.h"

namespace popo::fuzz {

// Aborts with a message (libFuzzer then saves the input as a crash).
[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "FUZZ FINDING: %s\n", what.c_str());
  std::abort();
}

// Runs f; a popo::Error is the expected outcome of bad input, anything else is a finding.
template <class F>
void only_popo_errors(const char* what, F&& f) {
  try {
    f();
  } catch (const Error&) {
  } catch (const std::exception& e) {
    finding(std::string(what) + ": escaped as " + typeid(e).name() + ": " + e.what());
  } catch (...) {
    finding(std::string(what) + ": a non-std exception escaped");
  }
}

// Splits data at the first NUL byte: (before, after); after is empty without one.
inline std::pair<std::string, std::string> split_at_nul(const uint8_t* data, size_t size) {
  const std::string s(reinterpret_cast<const char*>(data), size);
  const size_t z = s.find('\0');
  if (z == std::string::npos) return {s, ""};
  return {s.substr(0, z), s.substr(z + 1)};
}

#define FUZZ_CHECK(cond, ...)                                                  \
  do {                                                                         \
    if (!(cond)) ::popo::fuzz::finding(::popo::detail::str_cat(#cond ": ", __VA_ARGS__)); \
  } while (0)

}  // namespace popo::fuzz
