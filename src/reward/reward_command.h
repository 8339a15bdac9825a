// Reward functions outside popo: CommandReward keeps one child process (any program, found on
// PATH) and scores batches over its stdin/stdout, one JSON object per line each way
// (examples/rewards/README.md is the protocol as the script's author reads it). Also the
// built-in format reward (the word splitting of a `command:` value is core/command_line.h).
// What it does not do: run a shell (no variables, globs, pipes or redirections: write
// `sh -c '...'` for those), restart a child that failed, or weigh and combine rewards (the
// trainer does). POSIX only (posix_spawnp, poll); torch-free.
#pragma once

#include <sys/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/command_line.h"  // split_command_words for a `command:` value, join_command_words
#include "core/error.h"

namespace popo {

// A fault of a reward command (it died, printed a line that is not a valid reply, fell silent):
// a popo::Error of its own type so that the trainer can checkpoint and stop on it.
class RewardCommandError : public Error {
 public:
  explicit RewardCommandError(const std::string& what) : Error(what) {}
};

// One response to score. The fields go to the command as they are; ids must be distinct
// within one batch (the command answers by id).
struct CommandRequest {
  std::string id;
  std::string prompt;
  std::string response;
  std::string answer;  // the gold answer ("" when the task has none)
  nlohmann::json metadata = nlohmann::json::object();  // free-form, e.g. the dataset row's fields
};

struct CommandReply {
  double reward = 0.0;                                  // finite
  std::vector<std::pair<std::string, double>> metrics;  // the reply's "metrics", sorted by key
};

// A reward function served by a long-lived child process. The protocol, per batch:
//   popo -> child, one line per request:  {"id", "prompt", "response", "answer", "metadata"}
//   child -> popo, one line per request:  {"id": ..., "reward": <number>, "metrics": {k: <number>}}
// Replies may come in any order and may start before the whole batch is written: writes and
// reads interleave under poll() on non-blocking pipes, so no batch size can deadlock on full
// pipe buffers. "metrics" is optional; blank lines are skipped; other keys are ignored.
// The child's stderr is popo's (its prints reach the user's terminal or log).
//
// The child runs in a process group of its own: a Ctrl-C at the terminal is popo's stop request
// (the trainer finishes the step and checkpoints), so it must not kill the reward mid-batch.
//
// A fault throws RewardCommandError naming the reward, the command line and the request id
// concerned (for lines that name no known id: the first request still unanswered) and leaves the
// object dead: the child's group is killed and the child reaped, and every later score() throws,
// quoting the first fault. Faults: the child exits or closes its stdout before answering every
// request (with its exit status or signal); a line that is not JSON (quoted, cut at 200 bytes);
// a reply that is not an object, has no string "id", an id not in the batch or already
// answered, no numeric "reward", a non-finite reward, a "metrics" that is not an object or a
// metric that is not a number; a line over 64 MiB; no progress within timeout_s.
//
// Not thread-safe: one thread scores at a time. Move-only.
class CommandReward {
 public:
  // Starts argv (argv[0] looked up on PATH as execvp does) with pipes on its stdin and stdout.
  // timeout_s bounds each wait for progress during score(): the clock restarts when a batch
  // starts, whenever the child takes more request bytes and whenever a complete reply line
  // arrives; <= 0 waits forever. Throws popo::Error naming `name` and the command when argv is
  // empty or the program cannot be started (not found, not executable, not a program).
  CommandReward(std::string name, std::vector<std::string> argv, double timeout_s);
  // Closes the child's stdin, gives it 2 s to exit, then SIGKILLs its process group; always
  // reaps it. Never throws.
  ~CommandReward();

  CommandReward(CommandReward&&) noexcept;
  CommandReward& operator=(CommandReward&&) noexcept;
  CommandReward(const CommandReward&) = delete;
  CommandReward& operator=(const CommandReward&) = delete;

  // Returns one reply per request, in the order of `requests` (an empty batch does no IO).
  // Throws popo::Error (the object stays usable) when two requests share an id, and
  // RewardCommandError on any fault of the command (see above). SIGPIPE is blocked on the
  // calling thread while it writes: a child that died is an error, never popo's death.
  std::vector<CommandReply> score(const std::vector<CommandRequest>& requests);

  // The reward's name, as messages give it ("" in a moved-from object).
  const std::string& name() const;
  // The command line as join_command_words() writes it ("" in a moved-from object).
  const std::string& command_line() const;
  // The child's process id (also its process group id); -1 once it is reaped (after a fault)
  // or in a moved-from object. For tests.
  pid_t pid() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// The built-in format reward: returns 1.0 when `response` holds exactly one `\boxed` (the
// command: `\boxed` not followed by a letter, `\boxedx` being another command; `\fbox` is not
// counted) whose argument is braced, `\boxed{...}` or `\boxed {...}` with any blanks between,
// its braces balanced (\{ and \} are literal characters, as answer_extract.h matches them), and
// after its closing brace only blanks, at most one closing delimiter `$$`, `$`, `\]` or `\)`,
// then at most one `.`, in that order. Returns 0.0 otherwise (no box, two boxes, a nested
// box, an unclosed brace, `\boxed 5`, text after the box). One pass; never throws.
double format_reward(const std::string& response);

}  // namespace popo
