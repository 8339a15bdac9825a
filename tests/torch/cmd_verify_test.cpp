// `popo verify` end to end: runs the built program and checks its text, JSON and JSONL output.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/io.h"
#include "core/build_paths.h"

namespace popo {
namespace {

// Returns the program's stdout; *rc gets its exit status.
std::string run(const std::string& args, int* rc) {
  std::string cmd = std::string(POPO_BINARY) + " " + args + " 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

TEST(CmdVerify, TextAndJson) {
  int rc = 0;
  std::string out = run("verify --gold '\\frac12' --response 'so \\boxed{0.5}'", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("correct"), std::string::npos) << out;
  EXPECT_NE(out.find("boxed"), std::string::npos) << out;
  out = run("verify --json --last-number --gold 7 --response 'we get 3+4=7 apples'", &rc);
  EXPECT_EQ(rc, 0);
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["verdict"], "correct");
  EXPECT_EQ(j["rule"], "last_number");
  EXPECT_EQ(j["extracted"], "7");
}

// Returns the JSON lines of out.
std::vector<nlohmann::json> json_lines(const std::string& out) {
  std::istringstream in(out);
  std::string line;
  std::vector<nlohmann::json> rows;
  while (std::getline(in, line)) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

TEST(CmdVerify, JsonlRowsThenASummaryLine) {
  auto path = (std::filesystem::temp_directory_path() /
               ("popo_cmd_verify_" + std::to_string(::getpid()) + ".jsonl"))
                  .string();
  write_file_atomic(path,
                    "{\"gold\": \"(1,2)\", \"response\": \"The answer is (2,1).\"}\n"
                    "{\"gold\": \"2\\\\sqrt{3}\", \"response\": \"\\\\boxed{\\\\sqrt{12}}\"}\n"
                    "{\"gold\": \"9\", \"response\": \"So we have $ 9 $\"}\n"
                    "{\"gold\": \"9\", \"response\": \"I do not know.\"}\n");
  int rc = 0;
  std::vector<nlohmann::json> rows = json_lines(run("verify --jsonl " + path, &rc));
  EXPECT_EQ(rc, 0);
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0]["verdict"], "incorrect");
  EXPECT_EQ(rows[0]["rule"], "answer_is");
  EXPECT_EQ(rows[1]["verdict"], "correct");
  EXPECT_EQ(rows[1]["decided_by"], "symbolic");
  EXPECT_EQ(rows[2]["verdict"], "correct");
  EXPECT_EQ(rows[2]["rule"], "latex");
  EXPECT_EQ(rows[3]["verdict"], "no_answer");
  // The summary: counts by verdict and the time per call.
  const nlohmann::json& sum = rows[4];
  EXPECT_EQ(sum["summary"], true);
  EXPECT_EQ(sum["rows"], 4);
  EXPECT_EQ(sum["correct"], 2);
  EXPECT_EQ(sum["incorrect"], 1);
  EXPECT_EQ(sum["no_answer"], 1);
  EXPECT_EQ(sum["extraction"], "math_verify");
  for (const char* k : {"mean_ms", "median_ms", "p99_ms", "max_ms"}) {
    ASSERT_TRUE(sum.contains(k)) << k;
    EXPECT_GE(sum[k].get<double>(), 0.0) << k;
    EXPECT_LT(sum[k].get<double>(), 2000.0) << k;
  }
  EXPECT_LE(sum["median_ms"].get<double>(), sum["max_ms"].get<double>());

  // reward.extraction=boxed: only the boxed row can score; the others have no answer.
  rows = json_lines(run("verify --extraction boxed --jsonl " + path, &rc));
  EXPECT_EQ(rc, 0);
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[2]["verdict"], "no_answer");
  EXPECT_EQ(rows[4]["correct"], 1);
  EXPECT_EQ(rows[4]["no_answer"], 3);
  EXPECT_EQ(rows[4]["extraction"], "boxed");
  // An unknown mode is a usage error naming the key.
  run("verify --extraction lenient --gold 1 --response 1", &rc);
  EXPECT_NE(rc, 0);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace popo
