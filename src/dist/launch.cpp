// Local rank launcher: fork/execvpe N children with torchrun's variables, forward their output
// with a rank prefix through pipes and poll(), stop the rest when one fails. See launch.h.
#include "dist/launch.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>

#include "core/error.h"

extern char** environ;

namespace popo {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Returns the environment for one child: ours with `set` overriding or adding entries.
std::vector<std::string> child_env(const std::map<std::string, std::string>& set) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos && set.count(kv.substr(0, eq))) continue;
    env.push_back(std::move(kv));
  }
  for (const auto& [k, v] : set) env.push_back(k + "=" + v);
  return env;
}

// One output stream of one rank: a pipe read end and the partial line read so far.
struct Stream {
  int fd = -1;
  int rank = 0;
  FILE* out = nullptr;
  std::string partial;
};

void emit(Stream& s, const char* data, size_t n, bool flush_partial) {
  s.partial.append(data, n);
  size_t start = 0;
  for (;;) {
    size_t nl = s.partial.find('\n', start);
    if (nl == std::string::npos) break;
    std::fprintf(s.out, "[rank %d] %.*s\n", s.rank, static_cast<int>(nl - start),
                 s.partial.data() + start);
    start = nl + 1;
  }
  s.partial.erase(0, start);
  if (flush_partial && !s.partial.empty()) {
    std::fprintf(s.out, "[rank %d] %s\n", s.rank, s.partial.c_str());
    s.partial.clear();
  }
  std::fflush(s.out);
}

volatile std::sig_atomic_t g_signal = 0;  // SIGINT/SIGTERM received by the launcher
void on_signal(int sig) { g_signal = sig; }

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

int pick_free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  POPO_CHECK(fd >= 0, "pick_free_port: socket() failed: ", std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  int err = errno;
  ::close(fd);
  POPO_CHECK(ok, "pick_free_port: bind to 127.0.0.1:0 failed: ", std::strerror(err));
  return ntohs(addr.sin_port);
}

std::string self_executable() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  POPO_CHECK(n > 0, "self_executable: readlink(/proc/self/exe) failed: ", std::strerror(errno));
  return std::string(buf, static_cast<size_t>(n));
}

LaunchResult launch_ranks(const std::vector<std::string>& argv, const LaunchOptions& opts) {
  POPO_CHECK(!argv.empty(), "launch: empty command");
  POPO_CHECK(opts.nproc >= 1, "launch: nproc=", opts.nproc, " must be >= 1");
  const int port = opts.master_port > 0 ? opts.master_port : pick_free_port();
  const auto t0 = Clock::now();

  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  std::vector<pid_t> pids(opts.nproc, -1);
  std::vector<Stream> streams;
  LaunchResult res;
  res.rank_codes.assign(opts.nproc, -1);

  auto kill_all = [&](int sig) {
    for (int r = 0; r < opts.nproc; ++r) {
      // Each rank leads its own process group, so its children (shell pipelines) go too.
      if (pids[r] > 0 && res.rank_codes[r] < 0) ::kill(-pids[r], sig);
    }
  };

  for (int r = 0; r < opts.nproc; ++r) {
    std::map<std::string, std::string> set(opts.extra_env.begin(), opts.extra_env.end());
    set["RANK"] = std::to_string(r);
    set["LOCAL_RANK"] = std::to_string(r);
    set["WORLD_SIZE"] = std::to_string(opts.nproc);
    set["LOCAL_WORLD_SIZE"] = std::to_string(opts.nproc);
    set["MASTER_ADDR"] = opts.master_addr;
    set["MASTER_PORT"] = std::to_string(port);
    // Everything the child needs is prepared before fork (only async-signal-safe calls after).
    std::vector<std::string> env = child_env(set);
    std::vector<char*> cenv;
    for (auto& e : env) cenv.push_back(e.data());
    cenv.push_back(nullptr);

    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    if (opts.prefix_output) {
      POPO_CHECK(::pipe2(out_pipe, O_CLOEXEC) == 0 && ::pipe2(err_pipe, O_CLOEXEC) == 0,
                 "launch: pipe() failed: ", std::strerror(errno));
    }
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // the launcher dying takes its ranks along
      if (::getppid() != parent) ::_exit(143);
      if (opts.prefix_output) {
        ::dup2(out_pipe[1], STDOUT_FILENO);
        ::dup2(err_pipe[1], STDERR_FILENO);
      }
      ::execvpe(cargv[0], cargv.data(), cenv.data());
      const char* msg = "launch: exec failed: ";
      (void)!::write(STDERR_FILENO, msg, std::strlen(msg));
      (void)!::write(STDERR_FILENO, cargv[0], std::strlen(cargv[0]));
      (void)!::write(STDERR_FILENO, "\n", 1);
      ::_exit(127);
    }
    if (pid < 0) {
      int err = errno;
      kill_all(SIGKILL);
      for (int q = 0; q < r; ++q) ::waitpid(pids[q], nullptr, 0);
      POPO_FAIL("launch: fork() for rank ", r, " failed: ", std::strerror(err));
    }
    ::setpgid(pid, pid);  // also here: no race with the first kill
    pids[r] = pid;
    if (opts.prefix_output) {
      ::close(out_pipe[1]);
      ::close(err_pipe[1]);
      streams.push_back({out_pipe[0], r, stdout, {}});
      streams.push_back({err_pipe[0], r, stderr, {}});
    }
  }

  // Ranks are in their own process groups, so the terminal's Ctrl-C reaches only the launcher:
  // forward SIGINT/SIGTERM to them as a SIGTERM (then SIGKILL after the grace period).
  struct sigaction sa {}, old_int {}, old_term {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  g_signal = 0;
  ::sigaction(SIGINT, &sa, &old_int);
  ::sigaction(SIGTERM, &sa, &old_term);

  int alive = opts.nproc;
  Clock::time_point kill_deadline{};  // SIGKILL stragglers after SIGTERM + grace
  bool terminating = false;
  Clock::time_point all_exited{};
  char buf[65536];
  for (;;) {
    // Forward whatever output is ready.
    std::vector<pollfd> fds;
    std::vector<Stream*> owners;
    for (auto& s : streams) {
      if (s.fd >= 0) {
        fds.push_back({s.fd, POLLIN, 0});
        owners.push_back(&s);
      }
    }
    if (alive == 0 && (fds.empty() || seconds_since(all_exited) > 1.0)) break;
    if (!fds.empty()) {
      int n = ::poll(fds.data(), fds.size(), /*timeout_ms=*/50);
      for (size_t i = 0; n > 0 && i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        ssize_t got = ::read(fds[i].fd, buf, sizeof(buf));
        if (got > 0) {
          emit(*owners[i], buf, static_cast<size_t>(got), /*flush_partial=*/false);
        } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
          emit(*owners[i], "", 0, /*flush_partial=*/true);
          ::close(owners[i]->fd);
          owners[i]->fd = -1;
        }
      }
    } else {
      ::usleep(50 * 1000);
    }
    // Reap exited ranks.
    for (int r = 0; r < opts.nproc; ++r) {
      if (res.rank_codes[r] >= 0) continue;
      int status = 0;
      pid_t w = ::waitpid(pids[r], &status, WNOHANG);
      if (w != pids[r]) continue;
      res.rank_codes[r] = decode_status(status);
      --alive;
      if (alive == 0) all_exited = Clock::now();
      if (res.rank_codes[r] != 0 && res.first_failed_rank < 0 && !terminating) {
        res.first_failed_rank = r;
        res.exit_code = res.rank_codes[r];
        if (opts.kill_on_failure && alive > 0) {
          std::fprintf(stderr, "[launch] rank %d exited with code %d; stopping the other ranks\n",
                       r, res.exit_code);
          kill_all(SIGTERM);
          terminating = true;
          kill_deadline = Clock::now() + std::chrono::seconds(5);
        }
      }
    }
    if (opts.timeout_s > 0 && !terminating && alive > 0 && seconds_since(t0) > opts.timeout_s) {
      std::fprintf(stderr, "[launch] timeout after %.0f s; killing all ranks\n", opts.timeout_s);
      kill_all(SIGKILL);
      terminating = true;
      if (res.first_failed_rank < 0) res.exit_code = 124;
      kill_deadline = Clock::now();
    }
    if (g_signal != 0 && !terminating && alive > 0) {
      std::fprintf(stderr, "[launch] got signal %d; stopping all ranks\n", static_cast<int>(g_signal));
      kill_all(SIGTERM);
      terminating = true;
      if (res.first_failed_rank < 0) res.exit_code = 128 + g_signal;
      kill_deadline = Clock::now() + std::chrono::seconds(5);
    }
    if (terminating && alive > 0 && Clock::now() > kill_deadline) kill_all(SIGKILL);
  }
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  for (auto& s : streams) {
    if (s.fd >= 0) {
      emit(s, "", 0, /*flush_partial=*/true);
      ::close(s.fd);
    }
  }
  res.seconds = seconds_since(t0);
  return res;
}

int launch_local(int nproc, const std::vector<std::string>& argv_without_nproc) {
  LaunchOptions opts;
  opts.nproc = nproc;
  return launch_ranks(argv_without_nproc, opts).exit_code;
}

}  // namespace popo
