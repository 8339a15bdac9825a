// popo: the one main(). Subcommands live in tools/cmd_*.cpp and register themselves; this file
// parses the command line and holds the program's only try/catch (STYLE.md §4).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>

#include <c10/util/Exception.h>

#include "core/error.h"
#include "tools/command.h"

namespace popo::tools {
std::vector<Command>& command_registry() {
  static std::vector<Command> commands;
  return commands;
}
}  // namespace popo::tools

int main(int argc, char** argv) {
  CLI::App app{"popo: reinforcement learning with verifiable rewards for language models (POPO, GRPO, ...)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "popo 0.1.0");
  auto& commands = popo::tools::command_registry();
  std::sort(commands.begin(), commands.end(),
            [](const auto& a, const auto& b) { return a.order < b.order; });
  for (auto& cmd : commands) {
    CLI::App* sub = app.add_subcommand(cmd.name, cmd.help);
    cmd.setup(*sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  } catch (const popo::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const c10::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s\n", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
