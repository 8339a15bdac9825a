// Console logging: LOG_INFO / LOG_WARN lines on stderr prefixed with the calling function, and a
// TTY check so progress output degrades to plain lines in log files.
#pragma once

#include <string>

#include "core/error.h"

namespace popo {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// Sets the lowest level printed (default kInfo).
void set_log_level(LogLevel level);
// Prints "[level] func: msg" to stderr if level is enabled.
void log_line(LogLevel level, const char* func, const std::string& msg);
// Returns true if stderr is a terminal (progress bars redraw in place only then).
bool stderr_is_tty();

}  // namespace popo

#define LOG_DEBUG(...) ::popo::log_line(::popo::LogLevel::kDebug, __func__, ::popo::detail::str_cat(__VA_ARGS__))
#define LOG_INFO(...) ::popo::log_line(::popo::LogLevel::kInfo, __func__, ::popo::detail::str_cat(__VA_ARGS__))
#define LOG_WARN(...) ::popo::log_line(::popo::LogLevel::kWarn, __func__, ::popo::detail::str_cat(__VA_ARGS__))
