// CommandReward's child process and its JSON-lines protocol (posix_spawnp, poll on non-blocking
// pipes), the command-line word splitter and the built-in format reward. See reward_command.h.
#include "reward/reward_command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <unordered_map>

#include "core/strings.h"

extern char** environ;

namespace popo {

// ---- the child process -----------------------------------------------------------------------

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr size_t kMaxLine = size_t{64} << 20;  // a reply line this long is a runaway child
constexpr size_t kQuoteBytes = 200;            // how much of a bad line a message quotes
constexpr double kExitGraceS = 2.0;            // the destructor's wait before SIGKILL

void sleep_ms(int ms) {
  timespec t{ms / 1000, (ms % 1000) * 1000000L};
  while (::nanosleep(&t, &t) != 0 && errno == EINTR) {
  }
}

// Returns "exited with status 3" / "was killed by signal 9 (Killed)".
std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return "was killed by signal " + std::to_string(sig) + " (" + ::strsignal(sig) + ")";
  }
  return "changed state " + std::to_string(status);
}

// Returns the start of a line for a message: at most kQuoteBytes, control bytes escaped.
std::string quote_line(const std::string& line) {
  std::string q =
      json(line.substr(0, kQuoteBytes)).dump(-1, ' ', false, json::error_handler_t::replace);
  if (line.size() > kQuoteBytes) q += "... (" + std::to_string(line.size()) + " bytes)";
  return q;
}

// Makes fd at least 3 (so that the child's dup2 onto 0/1 never meets itself, which would leave
// FD_CLOEXEC set) with FD_CLOEXEC, and returns it; closes the original when it moved.
int above_stdio(int fd) {
  if (fd > 2) return fd;
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  const int err = errno;
  ::close(fd);
  errno = err;
  return moved;
}

// Blocks SIGPIPE on this thread for the guard's life; a SIGPIPE that a write raised meanwhile is
// consumed before the old mask returns (unless one was pending before: that one is not ours).
// Writes to a dead child then fail with EPIPE, which score() reports.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    ::sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    ::pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlock() {
    if (!was_pending_) {
      sigset_t pending;
      sigemptyset(&pending);
      ::sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        const timespec zero{0, 0};
        while (::sigtimedwait(&pipe_, nullptr, &zero) < 0 && errno == EINTR) {
        }
      }
    }
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t pipe_, old_;
  bool was_pending_ = false;
};

}  // namespace

struct CommandReward::State {
  std::string name, command;
  double timeout_s = 0;
  pid_t pid = -1;        // the child while unreaped
  pid_t group = -1;      // its process group (the same number) until the group is killed
  int to_child = -1;    // the child's stdin (our write end), non-blocking
  int from_child = -1;  // the child's stdout (our read end), non-blocking
  std::string rbuf;     // bytes read and not yet consumed as lines (may span batches)
  std::string fault;    // the first fault's message; non-empty: dead

  ~State() { stop(); }

  void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }

  // Returns true once the child is reaped within `wait_s` (status in *status), polling every
  // 5 ms; false while it still runs.
  bool reap_within(double wait_s, int* status) {
    const auto end = Clock::now() + std::chrono::duration<double>(wait_s);
    while (true) {
      const pid_t w = ::waitpid(pid, status, WNOHANG);
      if (w == pid || (w < 0 && errno == ECHILD)) {
        pid = -1;
        return true;
      }
      if (w < 0 && errno != EINTR) return false;
      if (Clock::now() >= end) return false;
      sleep_ms(5);
    }
  }

  // SIGKILLs the child's group (also what the child left running there, e.g. the program of a
  // `sh -c` wrapper that exited) and reaps the child. Idempotent. The group id stays reserved
  // while any member lives, so the kill cannot reach an unrelated process.
  void kill_and_reap() {
    close_fd(to_child);
    close_fd(from_child);
    if (group > 0) ::kill(-group, SIGKILL);
    group = -1;
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);  // in case it left its group
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    pid = -1;
  }

  // The destructor's way out: EOF on stdin first, the kill only for a child that lingers.
  void stop() {
    close_fd(to_child);
    int status = 0;
    if (pid > 0) reap_within(kExitGraceS, &status);
    kill_and_reap();  // closes stdout; kills what is left of the group
  }

  std::string prefix() const { return "reward '" + name + "' (command: " + command + ")"; }

  // Kills the child, remembers the message and throws it.
  [[noreturn]] void fail(const std::string& about, const std::string& what) {
    std::string msg = prefix() + ": " + about + ": " + what;
    kill_and_reap();
    fault = msg;
    throw RewardCommandError(msg);
  }

  void start(const std::vector<std::string>& argv) {
    int in_pipe[2], out_pipe[2];  // [0] read end, [1] write end
    POPO_CHECK(::pipe2(in_pipe, O_CLOEXEC) == 0, prefix(),
               ": pipe() failed: ", std::strerror(errno));
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
      const int err = errno;
      ::close(in_pipe[0]);
      ::close(in_pipe[1]);
      POPO_FAIL(prefix(), ": pipe() failed: ", std::strerror(err));
    }
    for (int* fd : {&in_pipe[0], &in_pipe[1], &out_pipe[0], &out_pipe[1]}) *fd = above_stdio(*fd);
    auto close_all = [&] {
      for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1]})
        if (fd >= 0) ::close(fd);
    };
    if (in_pipe[0] < 0 || in_pipe[1] < 0 || out_pipe[0] < 0 || out_pipe[1] < 0) {
      const int err = errno;
      close_all();
      POPO_FAIL(prefix(), ": fcntl(F_DUPFD_CLOEXEC) failed: ", std::strerror(err));
    }

    // The child: stdin <- in_pipe[0], stdout -> out_pipe[1]; every pipe fd is O_CLOEXEC, so
    // the child keeps only the two dup2 copies. Its own process group (see the header), an
    // empty signal mask and SIGPIPE at its default (a child of a popo that ignores SIGPIPE
    // would otherwise inherit that).
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    std::vector<char*> cargv;
    for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    // glibc's posix_spawnp reports a failed exec (ENOENT, EACCES, ENOEXEC) as its return value:
    // the child shares the parent's memory until exec, so the error is never lost.
    pid_t child = -1;
    const int rc = ::posix_spawnp(&child, cargv[0], &actions, &attr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      close_all();
      std::string hint;
      if (rc == ENOENT && argv[0].find('/') == std::string::npos)
        hint = " (looked up '" + argv[0] + "' on PATH)";
      else if (rc == ENOEXEC)
        hint = "; hint: a script needs a #! line, or put its interpreter first (python3 x.py)";
      else if (rc == EACCES)
        hint = "; hint: is it executable (chmod +x), or run it through its interpreter";
      POPO_FAIL(prefix(), ": cannot start '", argv[0], "': ", std::strerror(rc), hint);
    }
    pid = group = child;
    ::close(in_pipe[0]);
    ::close(out_pipe[1]);
    to_child = in_pipe[1];
    from_child = out_pipe[0];
    for (int fd : {to_child, from_child}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
};

// ---- CommandReward ---------------------------------------------------------------------------

CommandReward::CommandReward(std::string name, std::vector<std::string> argv, double timeout_s)
    : s_(std::make_unique<State>()) {
  s_->name = std::move(name);
  s_->command = join_command_words(argv);
  s_->timeout_s = timeout_s;
  POPO_CHECK(!argv.empty(), "reward '", s_->name, "': empty command (expected a program name)");
  POPO_CHECK(!std::isnan(timeout_s), "reward '", s_->name, "': timeout_s is NaN");
  s_->start(argv);
}

CommandReward::~CommandReward() = default;
CommandReward::CommandReward(CommandReward&&) noexcept = default;
CommandReward& CommandReward::operator=(CommandReward&&) noexcept = default;

const std::string& CommandReward::name() const {
  static const std::string none;
  return s_ ? s_->name : none;
}
const std::string& CommandReward::command_line() const {
  static const std::string none;
  return s_ ? s_->command : none;
}
pid_t CommandReward::pid() const { return s_ ? s_->pid : -1; }

std::vector<CommandReply> CommandReward::score(const std::vector<CommandRequest>& requests) {
  POPO_CHECK(s_ != nullptr, "CommandReward: score() on a moved-from object");
  State& s = *s_;
  if (!s.fault.empty())
    throw RewardCommandError(s.prefix() + ": stopped after an earlier fault: " + s.fault);
  if (requests.empty()) return {};

  std::unordered_map<std::string, size_t> index;  // id -> position in requests
  index.reserve(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    POPO_CHECK(index.emplace(requests[i].id, i).second, s.prefix(), ": request id '",
               requests[i].id, "' appears twice in one batch (expected distinct ids)");
  }

  // The whole batch, serialised once; invalid UTF-8 (a cut multi-byte character) becomes U+FFFD
  // rather than an exception.
  std::string out;
  for (const CommandRequest& r : requests) {
    json j = {{"id", r.id},
              {"prompt", r.prompt},
              {"response", r.response},
              {"answer", r.answer},
              {"metadata", r.metadata}};
    out += j.dump(-1, ' ', false, json::error_handler_t::replace);
    out += '\n';
  }

  std::vector<CommandReply> replies(requests.size());
  std::vector<bool> answered(requests.size(), false);
  size_t n_answered = 0, first_open = 0;  // first_open: lowest index maybe unanswered
  auto waiting_for = [&]() -> std::string {
    while (first_open < requests.size() && answered[first_open]) ++first_open;
    const size_t left = requests.size() - n_answered;
    std::string w = "waiting for request '" + requests[first_open].id + "'";
    if (left > 1) w += " and " + std::to_string(left - 1) + " more";
    return w;
  };

  // Returns "request 'X'" when a line that does not parse still reads `"id": "X"` with X in the
  // batch (a reply with a bad reward, say), else waiting_for().
  auto sniff_id = [&](const std::string& line) -> std::string {
    size_t p = line.find("\"id\"");
    if (p == std::string::npos) return waiting_for();
    p += 4;
    while (p < line.size() && (is_space(line[p]) || line[p] == ':')) ++p;
    if (p >= line.size() || line[p] != '"') return waiting_for();
    const size_t end = line.find('"', p + 1);
    if (end == std::string::npos) return waiting_for();
    const std::string id = line.substr(p + 1, end - p - 1);
    return index.count(id) != 0 ? "request '" + id + "'" : waiting_for();
  };

  // Consumes one reply line; faults name the request it concerns.
  auto take_line = [&](const std::string& line) {
    if (trim(line).empty()) return;
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception& e) {
      std::string hint;
      if (line.find("NaN") != std::string::npos || line.find("Infinity") != std::string::npos ||
          e.id == 406)
        hint =
            "; hint: the reward must be a finite number (Python's json.dumps writes NaN and "
            "Infinity, which are not JSON; 1e999 overflows a double)";
      s.fail(sniff_id(line), "a reply line is not valid JSON (" + std::string(e.what()) +
                                 "): " + quote_line(line) + hint);
    }
    if (!j.is_object()) s.fail(waiting_for(), "a reply is not a JSON object: " + quote_line(line));
    auto id_it = j.find("id");
    if (id_it == j.end() || !id_it->is_string())
      s.fail(waiting_for(), "a reply has no string \"id\": " + quote_line(line));
    const std::string id = id_it->get<std::string>();
    auto at = index.find(id);
    if (at == index.end())
      s.fail("request '" + id + "'", "a reply names an id that is not in this batch (" +
                                         waiting_for() + "): " + quote_line(line));
    const size_t k = at->second;
    const std::string about = "request '" + id + "'";
    if (answered[k]) s.fail(about, "answered twice: " + quote_line(line));
    auto r_it = j.find("reward");
    if (r_it == j.end() || !r_it->is_number())
      s.fail(about, "the reply has no numeric \"reward\": " + quote_line(line));
    CommandReply reply;
    reply.reward = r_it->get<double>();
    if (!std::isfinite(reply.reward))
      s.fail(about, "the reward is not finite: " + quote_line(line));
    auto m_it = j.find("metrics");
    if (m_it != j.end() && !m_it->is_null()) {
      if (!m_it->is_object()) s.fail(about, "\"metrics\" is not an object: " + quote_line(line));
      for (auto m = m_it->begin(); m != m_it->end(); ++m) {
        if (!m->is_number() || !std::isfinite(m->get<double>()))
          s.fail(about, "metric '" + m.key() + "' is not a finite number: " + quote_line(line));
        reply.metrics.emplace_back(m.key(), m->get<double>());
      }
    }
    replies[k] = std::move(reply);
    answered[k] = true;
    ++n_answered;
  };

  // Consumes the complete lines of s.rbuf, stopping once the batch is answered (later lines
  // stay for the next batch, where they are faults: replies to nothing).
  auto take_lines = [&] {
    size_t from = 0;
    while (n_answered < requests.size()) {
      const size_t nl = s.rbuf.find('\n', from);
      if (nl == std::string::npos) break;
      take_line(s.rbuf.substr(from, nl - from));
      from = nl + 1;
    }
    s.rbuf.erase(0, from);
    if (s.rbuf.size() > kMaxLine && s.rbuf.find('\n') == std::string::npos)
      s.fail(waiting_for(), "a reply line is over " + std::to_string(kMaxLine >> 20) +
                                " MiB without a newline: " + quote_line(s.rbuf));
  };

  // The child's stdout ended: report how it went.
  auto fail_eof = [&]() {
    int status = 0;
    std::string how = s.reap_within(/*wait_s=*/1.0, &status)
                          ? describe_status(status)
                          : std::string("closed its stdout (still running)");
    s.fail(waiting_for(), "the command " + how + " before answering every request (" +
                              std::to_string(n_answered) + " of " +
                              std::to_string(requests.size()) + " answered)");
  };

  SigpipeBlock no_sigpipe;
  take_lines();  // lines left over from the previous batch
  size_t written = 0;
  bool stdin_open = s.to_child >= 0;
  const bool has_timeout = s.timeout_s > 0;
  auto deadline = Clock::now() + std::chrono::duration<double>(has_timeout ? s.timeout_s : 0);
  auto progress = [&] {
    if (has_timeout) deadline = Clock::now() + std::chrono::duration<double>(s.timeout_s);
  };
  char chunk[1 << 16];
  while (n_answered < requests.size()) {
    int wait_ms = -1;
    if (has_timeout) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        std::string stage = written < out.size() ? "it took " + std::to_string(written) + " of " +
                                                       std::to_string(out.size()) + " request bytes"
                                                 : "it has every request";
        s.fail(waiting_for(),
               detail::str_cat("no reply within timeout_s = ", s.timeout_s, " s (", stage, ", ",
                               n_answered, " of ", requests.size(), " answered)"));
      }
      wait_ms = static_cast<int>(std::min<long long>(left + 1, 1 << 30));
    }
    pollfd fds[2];
    nfds_t nfds = 0;
    fds[nfds++] = {s.from_child, POLLIN, 0};
    const bool want_write = stdin_open && written < out.size();
    if (want_write) fds[nfds++] = {s.to_child, POLLOUT, 0};
    const int ready = ::poll(fds, nfds, wait_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      s.fail(waiting_for(), std::string("poll() failed: ") + std::strerror(errno));
    }
    if (ready == 0) continue;  // the deadline check above reports it

    if (want_write && fds[1].revents != 0) {
      while (written < out.size()) {
        const ssize_t w = ::write(s.to_child, out.data() + written, out.size() - written);
        if (w > 0) {
          written += static_cast<size_t>(w);
          progress();
          continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        // EPIPE (the child closed its stdin or died) or another error: stop writing; the read
        // side tells whether the child still answers or has gone.
        s.close_fd(s.to_child);
        stdin_open = false;
        break;
      }
    }
    if (fds[0].revents != 0) {
      bool eof = false;
      while (true) {
        const ssize_t r = ::read(s.from_child, chunk, sizeof chunk);
        if (r > 0) {
          s.rbuf.append(chunk, static_cast<size_t>(r));
          if (s.rbuf.size() > kMaxLine) break;  // take_lines judges it
          continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        eof = true;  // 0: the write end is closed; an error counts as the same
        break;
      }
      const size_t before = n_answered;
      take_lines();
      if (n_answered > before) progress();
      if (eof && n_answered < requests.size()) fail_eof();
    }
  }
  return replies;
}

// ---- format reward ---------------------------------------------------------------------------

double format_reward(const std::string& s) {
  const size_t n = s.size();
  size_t box = std::string::npos;
  for (size_t p = s.find("\\boxed"); p != std::string::npos; p = s.find("\\boxed", p + 6)) {
    const size_t after = p + 6;
    if (after < n && std::isalpha(static_cast<unsigned char>(s[after]))) continue;  // \boxedx
    if (box != std::string::npos) return 0.0;  // a second box (or one nested in the first)
    box = after;
  }
  if (box == std::string::npos) return 0.0;
  size_t i = box;
  while (i < n && is_space(s[i])) ++i;
  if (i >= n || s[i] != '{') return 0.0;  // "\boxed 5": unbraced
  // The matching '}', escaped braces being literal (answer_extract's match_braces rule).
  int depth = 0;
  for (; i < n; ++i) {
    if (s[i] == '\\' && i + 1 < n && (s[i + 1] == '{' || s[i + 1] == '}')) {
      ++i;
    } else if (s[i] == '{') {
      ++depth;
    } else if (s[i] == '}' && --depth == 0) {
      break;
    }
  }
  if (i >= n) return 0.0;  // unclosed
  ++i;
  auto skip_space = [&] {
    while (i < n && is_space(s[i])) ++i;
  };
  auto take = [&](const char* t) {
    const size_t len = std::strlen(t);
    if (s.compare(i, len, t) != 0) return false;
    i += len;
    return true;
  };
  skip_space();
  if (!take("$$") && !take("$") && !take("\\]")) take("\\)");
  skip_space();
  take(".");
  skip_space();
  return i == n ? 1.0 : 0.0;
}

}  // namespace popo
