// Subcommand registry for the one `popo` program. Each tools/cmd_*.cpp file registers its
// subcommand with a static CommandRegistrar, so adding a command touches one file.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace popo::tools {

struct Command {
  std::string name;                      // subcommand name, e.g. "generate"
  std::string help;                      // one-line description for --help
  int order;                             // position in --help (lower first)
  std::function<void(CLI::App&)> setup;  // adds options and the callback to the subcommand
};

// Returns the registered commands (filled by static registrars before main runs).
std::vector<Command>& command_registry();

struct CommandRegistrar {
  CommandRegistrar(std::string name, std::string help, int order,
                   std::function<void(CLI::App&)> setup) {
    command_registry().push_back({std::move(name), std::move(help), order, std::move(setup)});
  }
};

// Returns the run config file that `--config arg` names: arg itself when it is a file path,
// else the shipped config <arg>.yaml (data and configs beside the program, core/paths.h).
// Throws popo::Error naming arg and listing the shipped configs when neither exists.
std::string find_config(const std::string& arg);

// Applies the start-up choices every subcommand shares (thread counts, BLAS warning) and
// prints them once. Safe to call more than once.
void init_runtime(int num_threads);

}  // namespace popo::tools
