// reward_command.h: the command-line splitter (tables), CommandReward against small python3 and
// /bin/sh scripts written to a temporary folder (a large batch answered out of order, batches on
// one process, every fault with a bound on how long it takes, the child reaped), the example
// script of examples/rewards/, and the format reward's table.
#include "reward/reward_command.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "core/build_paths.h"
#include "core/error.h"

namespace popo {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A fresh folder per test, removed with the fixture.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("popo_reward_command_" + std::to_string(::getpid()) + "_" + info->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  // Writes `text` to name in the folder with the given mode; returns its path.
  std::string write(const std::string& name, const std::string& text, int mode = 0755) const {
    const std::string p = (path_ / name).string();
    std::ofstream(p) << text;
    ::chmod(p.c_str(), static_cast<mode_t>(mode));
    return p;
  }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

std::vector<CommandRequest> requests_of(const std::vector<std::string>& responses) {
  std::vector<CommandRequest> rs;
  for (size_t i = 0; i < responses.size(); ++i)
    rs.push_back(
        {"r" + std::to_string(i), "prompt " + std::to_string(i), responses[i], "42", {{"row", i}}});
  return rs;
}

double metric(const CommandReply& r, const std::string& key) {
  for (const auto& [k, v] : r.metrics)
    if (k == key) return v;
  ADD_FAILURE() << "no metric '" << key << "'";
  return NAN;
}

// ---- CommandReward: batches ------------------------------------------------------------------

// Replies to groups of --group requests in reverse order, each reply carrying the response back
// (so that both pipes carry megabytes); metrics: the process's request count and its pid.
const char kEchoScript[] = R"(import json, os, sys
group = int(sys.argv[1])
seen = 0
pending = []
for line in sys.stdin:
    req = json.loads(line)
    seen += 1
    pending.append({"id": req["id"], "reward": len(req["response"]),
                    "metrics": {"seen": seen, "pid": os.getpid(),
                                "row": req["metadata"]["row"],
                                "answer_ok": int(req["answer"] == "42")},
                    "echo": req["response"]})
    if len(pending) == group:
        for reply in reversed(pending):
            sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
        pending = []
)";

TEST(RewardCommand, LargeBatchesAnsweredOutOfOrderOnOneProcess) {
  TempDir dir;
  const std::string script = dir.write("echo.py", kEchoScript);
  CommandReward cr("echo", {"python3", script, "8"}, /*timeout_s=*/60);
  ASSERT_GT(cr.pid(), 0);
  // 200 responses of ~10 KB: 2 MB each way, far beyond a 64 KiB pipe buffer. Without
  // interleaved reads and writes the child blocks on a full stdout and popo on a full stdin.
  for (int batch = 0; batch < 2; ++batch) {
    std::vector<std::string> responses;
    for (int i = 0; i < 200; ++i)
      responses.push_back(std::string(10000 + 37 * i + batch, static_cast<char>('a' + i % 26)));
    const auto t0 = Clock::now();
    const std::vector<CommandReply> replies = cr.score(requests_of(responses));
    EXPECT_LT(seconds_since(t0), 30.0);
    ASSERT_EQ(replies.size(), responses.size());
    for (size_t i = 0; i < replies.size(); ++i) {
      EXPECT_EQ(replies[i].reward, static_cast<double>(responses[i].size())) << "request " << i;
      EXPECT_EQ(metric(replies[i], "row"), static_cast<double>(i));
      EXPECT_EQ(metric(replies[i], "answer_ok"), 1.0);
      EXPECT_EQ(metric(replies[i], "pid"), static_cast<double>(cr.pid())) << "one process";
      // Counted by the process: the second batch continues the first one's count.
      EXPECT_EQ(metric(replies[i], "seen"), static_cast<double>(batch * 200 + i + 1));
    }
    ASSERT_EQ(replies[0].metrics.size(), 4u);
    EXPECT_EQ(replies[0].metrics[0].first, "answer_ok");  // sorted by key
  }
  EXPECT_TRUE(cr.score({}).empty());
}

TEST(RewardCommand, MetricsAreOptionalAndOtherKeysIgnored) {
  TempDir dir;
  const std::string script = dir.write("plain.sh",
                                       "#!/bin/sh\n"
                                       "while read -r line; do\n"
                                       "  echo '{\"id\": \"r0\", \"reward\": -2.5, \"note\": 1}'\n"
                                       "done\n");
  CommandReward cr("plain", {script}, /*timeout_s=*/10);
  const auto replies = cr.score(requests_of({"x"}));
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].reward, -2.5);
  EXPECT_TRUE(replies[0].metrics.empty());
}

TEST(RewardCommand, DuplicateIdsAreTheCallersErrorAndLeaveTheProcessUsable) {
  TempDir dir;
  const std::string script = dir.write("echo.py", kEchoScript);
  CommandReward cr("echo", {"python3", script, "1"}, /*timeout_s=*/30);
  std::vector<CommandRequest> rs = requests_of({"a", "b"});
  rs[1].id = rs[0].id;
  try {
    cr.score(rs);
    ADD_FAILURE() << "duplicate ids accepted";
  } catch (const RewardCommandError& e) {
    ADD_FAILURE() << "a fault of the command: " << e.what();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'r0' appears twice"), std::string::npos) << e.what();
  }
  EXPECT_EQ(cr.score(requests_of({"abc"}))[0].reward, 3.0);
}

// ---- CommandReward: faults -------------------------------------------------------------------

// Runs one batch of `responses` through `argv` and returns the fault's message after checking
// that it is a RewardCommandError naming the command and `id`, that it came within 10 s, that
// the child is reaped and that the object stays dead.
std::string fault_of(const std::vector<std::string>& argv,
                     const std::vector<std::string>& responses, const std::string& id,
                     double timeout_s = 30) {
  CommandReward cr("judge", argv, timeout_s);
  const auto t0 = Clock::now();
  std::string msg;
  try {
    cr.score(requests_of(responses));
    ADD_FAILURE() << "no fault";
    return "";
  } catch (const RewardCommandError& e) {
    msg = e.what();
  }
  EXPECT_LT(seconds_since(t0), 10.0) << msg;
  EXPECT_NE(msg.find("reward 'judge'"), std::string::npos) << msg;
  EXPECT_NE(msg.find(cr.command_line()), std::string::npos) << msg;
  EXPECT_NE(msg.find("request '" + id + "'"), std::string::npos) << msg;
  EXPECT_EQ(cr.pid(), -1) << "the child is reaped after a fault";
  try {
    cr.score(requests_of({"again"}));
    ADD_FAILURE() << "a dead object scored";
  } catch (const RewardCommandError& e) {
    EXPECT_NE(std::string(e.what()).find("earlier fault"), std::string::npos) << e.what();
  }
  return msg;
}

// A python3 script that handles each request line with `body` (req is the parsed request).
std::vector<std::string> py(const TempDir& dir, const std::string& body) {
  const std::string script =
      dir.write("judge.py",
                "import json, os, sys, time\nfor line in sys.stdin:\n    req = json.loads(line)\n" +
                    body + "    sys.stdout.flush()\n");
  return {"python3", script};
}

#define EXPECT_HAS(msg, text) \
  EXPECT_NE((msg).find(text), std::string::npos) << "expected '" << (text) << "' in: " << (msg)

TEST(RewardCommand, StartFailuresNameTheRewardAndTheCommand) {
  TempDir dir;
  const std::string plain = dir.write("not_executable.py", "print('hi')\n", 0644);
  const std::string no_shebang = dir.write("no_shebang", std::string(1, 0x7f) + "ELF junk\n", 0755);
  // clang-format off
  const std::pair<std::vector<std::string>, const char*> kCases[] = {
    {{"popo-no-such-program-7f3a", "--x"}, "No such file or directory (looked up 'popo-no-such-program-7f3a' on PATH)"},
    {{dir.path() + "/missing.py"},         "No such file or directory"},
    {{plain},                              "Permission denied"},
    {{dir.path()},                         "Permission denied"},  // a folder
    {{no_shebang},                         "Exec format error"},
  };
  // clang-format on
  for (const auto& [argv, what] : kCases) {
    try {
      CommandReward cr("start", argv, 1.0);
      ADD_FAILURE() << "started: " << join_command_words(argv);
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_HAS(msg, "reward 'start'");
      EXPECT_HAS(msg, "(command: " + join_command_words(argv) + ")");
      EXPECT_HAS(msg, what);
    }
  }
  EXPECT_THROW(CommandReward("empty", {}, 1.0), Error);
}

TEST(RewardCommand, ExitMidBatchGivesTheStatus) {
  TempDir dir;
  const std::string msg = fault_of(py(dir,
                                      "    print(json.dumps({'id': req['id'], 'reward': 1}))\n"
                                      "    sys.stdout.flush()\n"
                                      "    sys.exit(3)\n"),
                                   {"a", "b", "c"}, "r1");
  EXPECT_HAS(msg, "exited with status 3");
  EXPECT_HAS(msg, "1 of 3 answered");
  EXPECT_HAS(msg, "and 1 more");
}

TEST(RewardCommand, DeathBySignalGivesTheSignal) {
  TempDir dir;
  const std::string msg = fault_of(py(dir, "    os.kill(os.getpid(), 9)\n"), {"a"}, "r0");
  EXPECT_HAS(msg, "killed by signal 9");
}

TEST(RewardCommand, ExitBeforeReadingAnythingIsAFaultNotSigpipe) {
  // The child is gone before popo writes: the write meets EPIPE (SIGPIPE is blocked), the read
  // meets EOF, and the fault reports the exit. popo itself must survive it.
  TempDir dir;
  const std::string script = dir.write("quit.sh", "#!/bin/sh\nexit 0\n");
  const std::string msg = fault_of({script}, {std::string(1 << 20, 'x')}, "r0");
  EXPECT_HAS(msg, "exited with status 0");
}

TEST(RewardCommand, NonJsonLineIsQuoted) {
  TempDir dir;
  const std::string msg = fault_of(py(dir, "    print('hello from the script')\n"), {"a"}, "r0");
  EXPECT_HAS(msg, "not valid JSON");
  EXPECT_HAS(msg, "\"hello from the script\"");
}

TEST(RewardCommand, UnknownAndTwiceAnsweredIdsAreFaults) {
  TempDir dir;
  std::string msg =
      fault_of(py(dir, "    print(json.dumps({'id': 'zzz', 'reward': 1}))\n"), {"a"}, "zzz");
  EXPECT_HAS(msg, "not in this batch");
  EXPECT_HAS(msg, "waiting for request 'r0'");
  msg = fault_of(py(dir,
                    "    print(json.dumps({'id': req['id'], 'reward': 1}))\n"
                    "    print(json.dumps({'id': req['id'], 'reward': 1}))\n"),
                 {"a", "b"}, "r0");
  EXPECT_HAS(msg, "answered twice");
}

TEST(RewardCommand, NonFiniteRewardsAreFaults) {
  TempDir dir;
  // nlohmann refuses both: 1e999 overflows a double (out_of_range.406), and NaN, which
  // Python's json.dumps writes for float('nan'), is not JSON. The message says why either way.
  // The line does not parse, yet its id is read for the message: r1, not the first unanswered.
  std::string msg =
      fault_of(py(dir,
                  "    bad = '1e999' if req['id'] == 'r1' else '1'\n"
                  "    print('{\"id\": \"%s\", \"reward\": %s}' % (req['id'], bad))\n"),
               {"a", "b"}, "r1");
  EXPECT_HAS(msg, "finite");
  EXPECT_HAS(msg, "1e999");
  msg = fault_of(py(dir, "    print(json.dumps({'id': req['id'], 'reward': float('nan')}))\n"),
                 {"a"}, "r0");
  EXPECT_HAS(msg, "finite");
  EXPECT_HAS(msg, "NaN");
}

TEST(RewardCommand, MalformedRepliesAreFaults) {
  TempDir dir;
  // clang-format off
  const std::pair<const char*, const char*> kCases[] = {
    {"    print(json.dumps({'id': req['id']}))\n",                                    "no numeric \"reward\""},
    {"    print(json.dumps({'id': req['id'], 'reward': '1'}))\n",                     "no numeric \"reward\""},
    {"    print(json.dumps([req['id'], 1]))\n",                                        "not a JSON object"},
    {"    print(json.dumps({'reward': 1}))\n",                                         "no string \"id\""},
    {"    print(json.dumps({'id': req['id'], 'reward': 1, 'metrics': {'a': 'x'}}))\n", "metric 'a' is not a finite number"},
    {"    print(json.dumps({'id': req['id'], 'reward': 1, 'metrics': [1]}))\n",       "\"metrics\" is not an object"},
  };
  // clang-format on
  for (const auto& [body, what] : kCases) {
    const std::string msg = fault_of(py(dir, body), {"a"}, "r0");
    EXPECT_HAS(msg, what);
  }
}

TEST(RewardCommand, SilencePastTheTimeoutIsAFault) {
  TempDir dir;
  const auto t0 = Clock::now();
  std::string msg = fault_of(py(dir, "    time.sleep(30)\n"), {"a"}, "r0", /*timeout_s=*/0.5);
  EXPECT_HAS(msg, "no reply within timeout_s = 0.5");
  EXPECT_HAS(msg, "it has every request");
  // A child that never reads: popo's writes stall on a full pipe, and the same clock stops it.
  const std::string script = dir.write("deaf.sh", "#!/bin/sh\nexec sleep 30\n");
  msg = fault_of({script}, std::vector<std::string>(50, std::string(10000, 'x')), "r0", 0.5);
  EXPECT_HAS(msg, "request bytes");
  EXPECT_LT(seconds_since(t0), 10.0);
}

// ---- CommandReward: the child's life ---------------------------------------------------------

// Returns true once `pid` is gone or a zombie of someone else (not ours to reap), within 5 s.
bool gone(pid_t pid) {
  for (int i = 0; i < 500; ++i) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const size_t close = text.rfind(')');
    if (close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'Z')
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(RewardCommand, DestructorReapsTheChild) {
  TempDir dir;
  const std::string script = dir.write("echo.py", kEchoScript);
  pid_t pid = -1;
  const auto t0 = Clock::now();
  {
    CommandReward cr("echo", {"python3", script, "1"}, /*timeout_s=*/30);
    pid = cr.pid();
    ASSERT_GT(pid, 0);
    EXPECT_EQ(cr.score(requests_of({"abcd"}))[0].reward, 4.0);
  }
  EXPECT_LT(seconds_since(t0), 10.0) << "the child exits at EOF: no 2 s grace needed";
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, WNOHANG), -1) << "no zombie of ours is left";
  EXPECT_EQ(errno, ECHILD);
  EXPECT_TRUE(gone(pid));
}

TEST(RewardCommand, DestructorKillsAChildThatIgnoresEofAndItsGroup) {
  TempDir dir;
  // Ignores EOF and SIGTERM, and starts a grandchild in its group whose pid it leaves in a file.
  const std::string pid_file = dir.path() + "/grandchild.pid";
  const std::string script =
      dir.write("stubborn.sh", "#!/bin/sh\ntrap '' TERM\nsleep 100 &\necho $! > " + pid_file +
                                   "\nwhile :; do sleep 1; done\n");
  pid_t pid = -1;
  auto t0 = Clock::now();
  {
    CommandReward cr("stubborn", {script}, /*timeout_s=*/1);
    pid = cr.pid();
    while (!std::filesystem::exists(pid_file) && seconds_since(t0) < 10)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    t0 = Clock::now();
  }
  const double took = seconds_since(t0);
  EXPECT_GE(took, 1.5) << "the grace period comes first";
  EXPECT_LT(took, 8.0);
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  pid_t grandchild = -1;
  std::ifstream(pid_file) >> grandchild;
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(gone(grandchild)) << "the group's other members are killed too";
}

size_t open_fds() {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)e;
    ++n;
  }
  return n;
}

TEST(RewardCommand, LeavesNoFileDescriptorsOpen) {
  TempDir dir;
  const std::string script = dir.write("echo.py", kEchoScript);
  const size_t before = open_fds();
  {
    CommandReward ok("echo", {"python3", script, "1"}, /*timeout_s=*/30);
    ok.score(requests_of({"a"}));
  }
  EXPECT_THROW(CommandReward("missing", {dir.path() + "/missing"}, 1.0), Error);
  {
    const std::string quit = dir.write("quit.sh", "#!/bin/sh\nexit 1\n");
    CommandReward dead("quit", {quit}, /*timeout_s=*/30);
    EXPECT_THROW(dead.score(requests_of({"a"})), RewardCommandError);
  }
  EXPECT_EQ(open_fds(), before);
}

TEST(RewardCommand, MovedObjectOwnsTheChild) {
  TempDir dir;
  const std::string script = dir.write("echo.py", kEchoScript);
  CommandReward a("echo", {"python3", script, "1"}, /*timeout_s=*/30);
  const pid_t pid = a.pid();
  CommandReward b = std::move(a);
  EXPECT_EQ(a.pid(), -1);
  EXPECT_EQ(a.name(), "");
  EXPECT_EQ(b.pid(), pid);
  EXPECT_EQ(b.score(requests_of({"xy"}))[0].reward, 2.0);
  EXPECT_THROW(a.score(requests_of({"xy"})), Error);
}

// ---- the example script ----------------------------------------------------------------------

std::string example_script() {
  return (source_file(__FILE__).parent_path() / "../../examples/rewards/length_format_reward.py")
      .lexically_normal()
      .string();
}

TEST(RewardCommand, ExampleLengthFormatScriptScoresByHand) {
  CommandReward cr("length_format",
                   {"python3", example_script(), "--max-chars", "10", "--zero-chars", "20"},
                   /*timeout_s=*/30);
  // clang-format off
  const std::vector<std::pair<std::string, double>> kCases = {
    {"\\boxed{7}",                     1.0},   //  9 chars, within 10
    {"abcdef \\boxed{7}.",             0.3},   // 17 chars: 1 - (17 - 10) / (20 - 10)
    {"abcdefghijklmnopq \\boxed{7}",   0.0},   // 27 chars, past 20
    {"\\boxed{1} \\boxed{2}",          0.0},   // two boxes
    {"abc",                            0.0},   // no box
  };
  // clang-format on
  std::vector<std::string> responses;
  for (const auto& c : kCases) responses.push_back(c.first);
  const auto replies = cr.score(requests_of(responses));
  for (size_t i = 0; i < kCases.size(); ++i) {
    EXPECT_NEAR(replies[i].reward, kCases[i].second, 1e-12) << kCases[i].first;
    EXPECT_EQ(metric(replies[i], "chars"), static_cast<double>(kCases[i].first.size()));
    EXPECT_EQ(metric(replies[i], "boxed"), format_reward(kCases[i].first)) << kCases[i].first;
  }
}

// ---- format_reward ---------------------------------------------------------------------------

struct FormatCase {
  const char* response;
  double reward;
};

// clang-format off
const FormatCase kFormat[] = {
  {"so the answer is \\boxed{5}",              1.0},
  {"so the answer is \\boxed{5}  \n",          1.0},
  {"\\boxed {\\frac{1}{2}}",                   1.0},   // blank before the brace; nested braces
  {"$\\boxed{5}$",                             1.0},   // closing $
  {"$$\\boxed{5}$$",                           1.0},
  {"\\[\\boxed{5}\\]",                         1.0},
  {"\\(\\boxed{5}\\)",                         1.0},
  {"\\boxed{5}.",                              1.0},
  {"$\\boxed{5}$ .",                           1.0},
  {"\\boxed{\\{1, 2\\}}",                      1.0},   // escaped braces are literal
  {"\\boxed{1} and \\boxed{2}",                0.0},   // two boxes
  {"\\boxed{\\boxed{2}}",                      0.0},   // a nested box counts as a second
  {"\\boxed{5} is the answer",                 0.0},   // text after the box
  {"\\boxed{5}..",                             0.0},
  {"\\boxed{5}$$$",                            0.0},
  {"\\boxed{5}.$",                             0.0},   // '.' then the delimiter: wrong order
  {"\\boxed{\\frac{1}{2}",                     0.0},   // unbalanced
  {"\\boxed{5\\}",                             0.0},   // the escaped brace does not close
  {"\\boxed 5",                                0.0},   // unbraced
  {"\\boxedx{5}",                              0.0},   // another command
  {"\\fbox{5}",                                0.0},
  {"the answer is 5",                          0.0},
  {"",                                         0.0},
};
// clang-format on

TEST(FormatReward, OneBoxAtTheEndScoresOne) {
  for (const FormatCase& c : kFormat)
    EXPECT_EQ(format_reward(c.response), c.reward) << "response: " << c.response;
}

TEST(FormatReward, ExampleScriptAgreesWithTheBuiltIn) {
  CommandReward cr("length_format", {"python3", example_script(), "--max-chars", "1000"},
                   /*timeout_s=*/30);
  std::vector<std::string> responses;
  for (const FormatCase& c : kFormat) responses.push_back(c.response);
  const auto replies = cr.score(requests_of(responses));
  for (size_t i = 0; i < replies.size(); ++i)
    EXPECT_EQ(metric(replies[i], "boxed"), kFormat[i].reward) << "response: " << responses[i];
}

}  // namespace
}  // namespace popo
