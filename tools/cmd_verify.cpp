// `popo verify`: judge one response (--gold G --response R) or a JSONL file of
// {gold, response} rows (--jsonl FILE, one JSON verdict per line, then one summary line with the
// verdict counts and the time per call) with the math reward (reward/math_verifier.h), graded as
// reward.extraction says (--extraction, the trainer's and popo eval's setting). Prints the
// verdict, the extracted answer and the rule that found it.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "core/io.h"
#include "reward/math_verifier.h"
#include "reward/reward_config.h"
#include "tools/command.h"

namespace popo::tools {
namespace {

struct VerifyArgs {
  std::string gold, response, jsonl;
  bool json = false;
  bool last_number = false;
  std::string extraction = "math_verify";
  double rel_tol = 0;
  int max_ms = 2000;
};

// Returns the q-quantile (0..1) of xs (sorted in place), 0 when empty.
double quantile(std::vector<double>& xs, double q) {
  if (xs.empty()) return 0;
  std::sort(xs.begin(), xs.end());
  size_t i = static_cast<size_t>(q * static_cast<double>(xs.size() - 1) + 0.5);
  return xs[std::min(i, xs.size() - 1)];
}

// Returns the result as one JSON object.
nlohmann::json to_json(const VerifyResult& r) {
  return {{"verdict", verdict_name(r.verdict)},
          {"extracted", r.extracted.answer},
          {"rule", rule_name(r.extracted.rule)},
          {"decided_by", r.decided_by},
          {"reason", r.reason}};
}

void run_verify(const VerifyArgs& a) {
  RewardConfig reward;
  reward.extraction = a.extraction;
  VerifyOptions opt = reward.verify_options();
  opt.allow_last_number = a.last_number;
  opt.rel_tol = a.rel_tol;
  opt.max_ms = a.max_ms;
  if (!a.jsonl.empty()) {
    POPO_CHECK(a.gold.empty() && a.response.empty(),
               "popo verify: give either --jsonl or --gold/--response, not both");
    std::vector<double> ms;
    int counts[3] = {0, 0, 0};  // indexed by Verdict
    for_each_jsonl(a.jsonl, [&](const nlohmann::json& row, int line) {
      POPO_CHECK(row.is_object() && row.contains("gold") && row.contains("response") &&
                     row["response"].is_string(),
                 a.jsonl, ":", line, ": expected an object with string fields 'gold' and 'response'");
      std::string gold = row["gold"].is_string() ? row["gold"].get<std::string>() : row["gold"].dump();
      const std::string& response = row["response"].get_ref<const std::string&>();
      auto t0 = std::chrono::steady_clock::now();
      VerifyResult r = verify(response, gold, opt);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      ++counts[static_cast<int>(r.verdict)];
      nlohmann::json out = to_json(r);
      out["line"] = line;
      if (row.contains("id")) out["id"] = row["id"];
      std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    });
    // The summary line: verdict counts and time per call, so a reward can be audited at a glance.
    double total = 0;
    for (double x : ms) total += x;
    const size_t n = ms.size();
    nlohmann::json summary = {
        {"summary", true},
        {"rows", n},
        {"correct", counts[static_cast<int>(Verdict::kCorrect)]},
        {"incorrect", counts[static_cast<int>(Verdict::kIncorrect)]},
        {"no_answer", counts[static_cast<int>(Verdict::kNoAnswer)]},
        {"extraction", extract_mode_name(opt.extraction)},
        {"mean_ms", n ? total / static_cast<double>(n) : 0.0},
        {"median_ms", quantile(ms, 0.5)},
        {"p99_ms", quantile(ms, 0.99)},
        {"max_ms", n ? ms.back() : 0.0}};
    std::cout << summary.dump() << "\n";
    return;
  }
  POPO_CHECK(!a.gold.empty(), "popo verify: --gold is required (or --jsonl FILE)");
  VerifyResult r = verify(a.response, a.gold, opt);
  if (a.json) {
    std::cout << to_json(r).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return;
  }
  std::cout << "verdict:    " << verdict_name(r.verdict) << "\n"
            << "extracted:  " << r.extracted.answer << "\n"
            << "rule:       " << rule_name(r.extracted.rule) << "\n"
            << "decided_by: " << r.decided_by << "\n";
  if (!r.reason.empty()) std::cout << "reason:     " << r.reason << "\n";
}

const CommandRegistrar kRegistrar(
    "verify", "judge a model response against a gold math answer", /*order=*/60,
    [](CLI::App& app) {
      auto args = std::make_shared<VerifyArgs>();
      app.add_option("--gold", args->gold, "gold answer (LaTeX as in the dataset)");
      app.add_option("--response", args->response, "model response text");
      app.add_option("--jsonl", args->jsonl, "JSONL file of {gold, response} rows");
      app.add_flag("--json", args->json, "print one JSON object");
      app.add_flag("--last-number", args->last_number,
                   "take the response's last number after its boxes (GSM8K-style tasks)");
      app.add_option("--extraction", args->extraction,
                     "reward.extraction: math_verify (Math-Verify's order and fallbacks) | boxed "
                     "(only boxed answers count)")
          ->capture_default_str();
      app.add_option("--rel-tol", args->rel_tol,
                     "extra relative tolerance of numeric comparisons (0 = Math-Verify's rounding only)");
      app.add_option("--max-ms", args->max_ms, "time budget per comparison in milliseconds");
      app.callback([args] { run_verify(*args); });
    });

}  // namespace
}  // namespace popo::tools
