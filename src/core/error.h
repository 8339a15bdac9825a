// popo::Error and the POPO_CHECK / POPO_FAIL macros: user, data, config and IO errors.
// Bugs use assert / TORCH_INTERNAL_ASSERT instead (faiss's split: throw for the user, abort for
// the programmer). Messages name the thing, say expected vs got, and add a hint where one helps.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace popo {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
// Returns the streamed concatenation of args: str_cat("got ", 3, " rows") == "got 3 rows".
template <class... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
[[noreturn]] void throw_error(const std::string& msg, const char* file, int line);
}  // namespace detail

}  // namespace popo

// Throws popo::Error with the streamed message; debug builds append file:line.
#define POPO_FAIL(...) ::popo::detail::throw_error(::popo::detail::str_cat(__VA_ARGS__), __FILE__, __LINE__)
// Throws popo::Error with the streamed message unless cond holds.
#define POPO_CHECK(cond, ...)   \
  do {                          \
    if (!(cond)) POPO_FAIL(__VA_ARGS__); \
  } while (0)
