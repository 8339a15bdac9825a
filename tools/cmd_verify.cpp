// `popo verify`: judge one response (--gold G --response R) or a JSONL file of
// {gold, response} rows (--jsonl FILE, one JSON verdict per line) with the math reward
// (reward/math_verifier.h). Prints the verdict, the extracted answer and the rule that found it.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "core/io.h"
#include "reward/math_verifier.h"
#include "tools/command.h"

namespace popo::tools {
namespace {

struct VerifyArgs {
  std::string gold, response, jsonl;
  bool json = false;
  bool last_number = false;
  double rel_tol = 1e-4;
  int max_ms = 2000;
};

// Returns the result as one JSON object.
nlohmann::json to_json(const VerifyResult& r) {
  return {{"verdict", verdict_name(r.verdict)},
          {"extracted", r.extracted.answer},
          {"rule", rule_name(r.extracted.rule)},
          {"decided_by", r.decided_by},
          {"reason", r.reason}};
}

void run_verify(const VerifyArgs& a) {
  VerifyOptions opt;
  opt.allow_last_number = a.last_number;
  opt.rel_tol = a.rel_tol;
  opt.max_ms = a.max_ms;
  if (!a.jsonl.empty()) {
    POPO_CHECK(a.gold.empty() && a.response.empty(),
               "popo verify: give either --jsonl or --gold/--response, not both");
    for_each_jsonl(a.jsonl, [&](const nlohmann::json& row, int line) {
      POPO_CHECK(row.is_object() && row.contains("gold") && row.contains("response") &&
                     row["response"].is_string(),
                 a.jsonl, ":", line, ": expected an object with string fields 'gold' and 'response'");
      std::string gold = row["gold"].is_string() ? row["gold"].get<std::string>() : row["gold"].dump();
      nlohmann::json out = to_json(verify(row["response"].get<std::string>(), gold, opt));
      out["line"] = line;
      if (row.contains("id")) out["id"] = row["id"];
      std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    });
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
                   "fall back to the last number of the response (GSM8K-style tasks)");
      app.add_option("--rel-tol", args->rel_tol, "relative tolerance of numeric comparisons");
      app.add_option("--max-ms", args->max_ms, "time budget per comparison in milliseconds");
      app.callback([args] { run_verify(*args); });
    });

}  // namespace
}  // namespace popo::tools
