// Local multi-process launcher for `popo train --nproc N` (a small torchrun --standalone): runs N
// copies of a command with RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT set, copies
// their stdout/stderr line by line with a "[rank k] " prefix, and when one rank fails stops the
// others. Not here: multi-node rendezvous (start one launcher per machine with the env vars
// instead), restarts, elastic membership. Torch-free (fork/exec/poll).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace popo {

struct LaunchOptions {
  int nproc = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;          // 0: pick a free port
  bool prefix_output = true;    // "[rank k] " before each line; false: children inherit stdio
  bool kill_on_failure = true;  // a rank exiting non-zero stops the others (SIGTERM, then SIGKILL)
  double timeout_s = 0;         // > 0: kill all ranks after this long (exit code 124)
  std::vector<std::pair<std::string, std::string>> extra_env;  // set in every child
};

struct LaunchResult {
  int exit_code = 0;            // the first failing rank's code, else 0
  int first_failed_rank = -1;   // -1 if all succeeded
  std::vector<int> rank_codes;  // per rank: exit status, or 128+signal if killed
  double seconds = 0;           // wall time until the last rank ended
};

// Returns a TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read, close).
int pick_free_port();
// Returns the absolute path of the running executable (/proc/self/exe).
std::string self_executable();
// Runs opts.nproc copies of argv (argv[0] is looked up in PATH like execvp) and waits for them.
// Throws popo::Error if argv is empty, nproc < 1, or a child cannot be started.
LaunchResult launch_ranks(const std::vector<std::string>& argv, const LaunchOptions& opts);
// Returns the exit code of `nproc` local ranks of argv_without_nproc run with the defaults above
// (free port on 127.0.0.1, prefixed output, kill on first failure): 0 if all succeeded, else the
// first failing rank's code.
int launch_local(int nproc, const std::vector<std::string>& argv_without_nproc);

}  // namespace popo
