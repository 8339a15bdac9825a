// Helpers for tests that run the real `popo` program (POPO_BINARY): a config as its command
// line, and a child process with its own environment and its output in a log file.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "core/config.h"
#include "train/train_config.h"

namespace popo::test {

// Returns the `popo train` command line of cfg: every key=value (lists keep their defaults).
inline std::vector<std::string> train_args(const RunConfig& cfg) {
  std::vector<std::string> args = {POPO_BINARY, "train"};
  for (const auto& [k, v] : flatten(cfg)) {
    if (v.find('[') == 0) continue;
    args.push_back(k + "=" + v);
  }
  return args;
}

// Starts args in a child with the variables of unset removed and those of env set, stdout and
// stderr into log; returns its pid (the caller waits for it).
inline pid_t spawn_program(const std::vector<std::string>& args,
                           const std::vector<std::pair<std::string, std::string>>& env,
                           const std::string& log, const std::vector<std::string>& unset = {}) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::freopen(log.c_str(), "w", stdout);
    std::freopen(log.c_str(), "a", stderr);
    for (const auto& k : unset) ::unsetenv(k.c_str());
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<std::string> a = args;
    std::vector<char*> argv;
    for (auto& s : a) argv.push_back(s.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::_Exit(127);
  }
  return pid;
}

}  // namespace popo::test
