// Math verifier throughput, single thread: verify(response, gold) over the model-style responses
// of the rule table (tests/data/verifier_table.jsonl), the hedging set and the MATH-500 reference
// solutions (their own gold answers). Prints one markdown table: calls, median / p99 / max time
// per call, calls per second (from the mean). Times are this thread's CPU time, so neighbours on
// a shared machine do not count; each set is run --passes times after one warm-up pass.
//
// Usage: bench_verifier [--passes 5]
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/io.h"
#include "data/math_dataset.h"
#include "reward/math_verifier.h"
#include "core/build_paths.h"

namespace {

double cpu_now() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

struct Pair {
  std::string gold, response;
  popo::VerifyOptions opt;
};

std::vector<Pair> load(const std::string& path, const char* gold_key, const char* response_key) {
  std::vector<Pair> out;
  popo::for_each_jsonl(path, [&](const nlohmann::json& row, int) {
    Pair p{row.at(gold_key).get<std::string>(), row.at(response_key).get<std::string>(), {}};
    if (row.contains("extraction") && row.at("extraction") == "boxed")
      p.opt.extraction = popo::ExtractMode::kBoxed;
    out.push_back(std::move(p));
  });
  return out;
}

void run(const std::string& name, const std::vector<Pair>& pairs, int passes) {
  std::vector<double> us;
  int correct = 0;
  for (int pass = 0; pass <= passes; ++pass) {
    for (const Pair& p : pairs) {
      double t0 = cpu_now();
      popo::VerifyResult r = popo::verify(p.response, p.gold, p.opt);
      double dt = cpu_now() - t0;
      if (pass == 0) {
        correct += r.verdict == popo::Verdict::kCorrect;  // warm-up pass: counted, not timed
        continue;
      }
      us.push_back(dt * 1e6);
    }
  }
  double total = 0;
  for (double x : us) total += x;
  std::sort(us.begin(), us.end());
  auto q = [&](double f) { return us[std::min(us.size() - 1, static_cast<size_t>(f * (us.size() - 1) + 0.5))]; };
  std::printf("| %-26s | %6zu | %7d | %9.1f | %8.1f | %9.1f | %10.0f |\n", name.c_str(), pairs.size(),
              correct, q(0.5), q(0.99), us.back(), 1e6 * static_cast<double>(us.size()) / total);
}

}  // namespace

int main(int argc, char** argv) {
  int passes = 5;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--passes") passes = std::max(1, std::atoi(argv[i + 1]));
  const std::string tests = (popo::source_file(__FILE__).parent_path().parent_path() / "tests" / "data").string();
  const std::string data = popo::default_data_dir();  // $POPO_DATA_DIR or the folder compiled in
  std::printf("| %-26s | %6s | %7s | %9s | %8s | %9s | %10s |\n", "set", "pairs", "correct",
              "median us", "p99 us", "max us", "calls/s");
  std::printf("|%s|%s|%s|%s|%s|%s|%s|\n", std::string(28, '-').c_str(), std::string(8, '-').c_str(),
              std::string(9, '-').c_str(), std::string(11, '-').c_str(), std::string(10, '-').c_str(),
              std::string(11, '-').c_str(), std::string(12, '-').c_str());
  run("rule table responses", load(tests + "/verifier_table.jsonl", "gold", "response"), passes);
  run("hedging set", load(tests + "/verifier_hedging.jsonl", "gold", "response"), passes);
  run("MATH-500 solutions", load(data + "/math500.jsonl", "answer", "solution"), passes);
  return 0;
}
