#include "core/error.h"

namespace popo::detail {

void throw_error(const std::string& msg, const char* file, int line) {
#ifdef NDEBUG
  (void)file;
  (void)line;
  throw Error(msg);
#else
  throw Error(msg + " [" + file + ":" + std::to_string(line) + "]");
#endif
}

}  // namespace popo::detail
