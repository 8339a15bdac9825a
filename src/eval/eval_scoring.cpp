// The torch-free half of evaluator.h: pass@k, judging one response, aggregating samples into an
// EvalResult, and the JSONL / JSON / markdown renderings. Kept apart from evaluate() so the
// arithmetic is testable without a model.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "eval/evaluator.h"
#include "reward/answer_extract.h"
#include "tokenizer/chat_template.h"

namespace popo {

double pass_at_k(int n, int c, int k) {
  POPO_CHECK(n >= 1 && c >= 0 && c <= n && k >= 1 && k <= n,
             "pass_at_k: expected 0 <= c <= n and 1 <= k <= n, got n=", n, " c=", c, " k=", k);
  if (n - c < k) return 1.0;
  // C(n-c, k) / C(n, k) = prod_{i=n-c+1..n} (1 - k / i): every factor lies in [0, 1).
  double miss = 1.0;
  for (int i = n - c + 1; i <= n; ++i) miss *= 1.0 - static_cast<double>(k) / i;
  return 1.0 - miss;
}

double mean_pass_at_k(const std::vector<int>& correct_per_problem, int n, int k) {
  if (correct_per_problem.empty()) return 0.0;
  double sum = 0;
  for (int c : correct_per_problem) sum += pass_at_k(n, c, k);
  return sum / static_cast<double>(correct_per_problem.size());
}

EvalOptions resolve_eval_options(const EvalOptions& options) {
  EvalOptions o = options;
  POPO_CHECK(o.samples >= 1, "eval: samples (K) must be >= 1, got ", o.samples);
  POPO_CHECK(o.batch_rollouts >= 1, "eval: batch size must be >= 1, got ", o.batch_rollouts);
  POPO_CHECK(o.max_new_tokens >= 0,
             "eval: max new tokens must be >= 0 (0 = from the model's "
             "context), got ",
             o.max_new_tokens);
  const auto names = chat_template_names();
  if (std::find(names.begin(), names.end(), o.template_name) == names.end()) {
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    POPO_FAIL("eval: unknown template '", o.template_name, "'; known: ", known);
  }
  // Qwen2.5-Math evaluation: greedy for a single sample, T = 0.6 / top-p 0.95 for sampling.
  if (o.temperature < 0) o.temperature = o.samples == 1 ? 0.0 : 0.6;
  if (o.top_p <= 0) o.top_p = o.samples == 1 ? 1.0 : 0.95;
  return o;
}

EvalSample judge_response(const MathProblem& problem, int problem_index, int sample_index,
                          const std::string& prompt, const std::string& response,
                          int64_t response_tokens, const std::string& finish,
                          const EvalOptions& options) {
  VerifyOptions vopt = options.verify;
  vopt.allow_last_number = options.last_number;
  const VerifyResult r = verify(response, problem.answer, vopt);
  EvalSample s;
  s.problem = problem_index;
  s.sample = sample_index;
  s.id = problem.id;
  s.prompt = prompt;
  s.response = response;
  s.gold = problem.answer;
  s.extracted = r.extracted.answer;
  s.rule = rule_name(r.extracted.rule);
  s.verdict = verdict_name(r.verdict);
  s.finish = finish;
  s.response_tokens = response_tokens;
  s.correct = r.verdict == Verdict::kCorrect;
  return s;
}

EvalResult summarize_samples(const std::string& name, int num_problems, int k,
                             const std::vector<EvalSample>& samples) {
  POPO_CHECK(num_problems >= 1 && k >= 1, "eval '", name,
             "': expected >= 1 problems and K >= 1, got ", num_problems, " problems, K=", k);
  EvalResult r;
  r.name = name;
  r.problems = num_problems;
  r.samples = k;
  r.responses = static_cast<int64_t>(num_problems) * k;
  POPO_CHECK(static_cast<int64_t>(samples.size()) == r.responses, "eval '", name, "': expected ",
             r.responses, " samples (", num_problems, " problems x K=", k, "), got ",
             samples.size());
  std::vector<int> seen(num_problems, 0);
  r.correct_per_problem.assign(num_problems, 0);
  int64_t tokens = 0;
  for (const auto& s : samples) {
    POPO_CHECK(s.problem >= 0 && s.problem < num_problems, "eval '", name, "': sample of problem ",
               s.problem, " outside [0, ", num_problems, ")");
    ++seen[s.problem];
    if (s.correct) ++r.correct_per_problem[s.problem];
    r.correct += s.correct;
    r.no_answer += s.verdict == "no_answer";
    r.truncated += s.finish == "length";
    tokens += s.response_tokens;
  }
  for (int i = 0; i < num_problems; ++i) {
    POPO_CHECK(seen[i] == k, "eval '", name, "': problem ", i, " has ", seen[i],
               " samples, expected K=", k);
  }
  const double n = static_cast<double>(r.responses);
  r.pass_at_k = mean_pass_at_k(r.correct_per_problem, k, k);
  r.avg_at_k = r.correct / n;
  r.mean_response_tokens = tokens / n;
  r.no_answer_share = r.no_answer / n;
  r.truncated_share = r.truncated / n;
  return r;
}

std::string samples_to_jsonl(const std::vector<EvalSample>& samples) {
  std::vector<const EvalSample*> order;
  order.reserve(samples.size());
  for (const auto& s : samples) order.push_back(&s);
  std::stable_sort(order.begin(), order.end(), [](const EvalSample* a, const EvalSample* b) {
    return a->problem != b->problem ? a->problem < b->problem : a->sample < b->sample;
  });
  std::string out;
  for (const EvalSample* s : order) {
    nlohmann::ordered_json j = {{"id", s->id},           {"sample", s->sample},
                                {"prompt", s->prompt},   {"response", s->response},
                                {"gold", s->gold},       {"extracted", s->extracted},
                                {"rule", s->rule},       {"verdict", s->verdict},
                                {"correct", s->correct}, {"response_tokens", s->response_tokens},
                                {"finish", s->finish}};
    // Responses of a sampled model may hold invalid UTF-8 only if decode let it through; replace.
    out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out += '\n';
  }
  return out;
}

nlohmann::json eval_sample_to_json(const EvalSample& s) {
  return {{"problem", s.problem}, {"sample", s.sample},       {"id", s.id},
          {"prompt", s.prompt},   {"response", s.response},   {"gold", s.gold},
          {"extracted", s.extracted}, {"rule", s.rule},       {"verdict", s.verdict},
          {"finish", s.finish},   {"response_tokens", s.response_tokens}, {"correct", s.correct}};
}

EvalSample eval_sample_from_json(const nlohmann::json& j) {
  EvalSample s;
  try {
    s.problem = j.at("problem").get<int>();
    s.sample = j.at("sample").get<int>();
    s.id = j.at("id").get<std::string>();
    s.prompt = j.at("prompt").get<std::string>();
    s.response = j.at("response").get<std::string>();
    s.gold = j.at("gold").get<std::string>();
    s.extracted = j.at("extracted").get<std::string>();
    s.rule = j.at("rule").get<std::string>();
    s.verdict = j.at("verdict").get<std::string>();
    s.finish = j.at("finish").get<std::string>();
    s.response_tokens = j.at("response_tokens").get<int64_t>();
    s.correct = j.at("correct").get<bool>();
  } catch (const nlohmann::json::exception& e) {
    POPO_FAIL("eval sample: ", e.what());
  }
  return s;
}

nlohmann::json eval_result_to_json(const EvalResult& r) {
  return {{"name", r.name},
          {"problems", r.problems},
          {"samples", r.samples},
          {"responses", r.responses},
          {"correct", r.correct},
          {"no_answer", r.no_answer},
          {"truncated", r.truncated},
          {"avg_at_k", r.avg_at_k},
          {"pass_at_k", r.pass_at_k},
          {"mean_response_tokens", r.mean_response_tokens},
          {"no_answer_share", r.no_answer_share},
          {"truncated_share", r.truncated_share},
          {"seconds", r.seconds},
          {"temperature", r.temperature},
          {"top_p", r.top_p}};
}

namespace {
// Returns x formatted with printf format fmt.
std::string fmt(const char* f, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, x);
  return buf;
}
}  // namespace

std::string format_eval_table(const std::vector<EvalResult>& results) {
  std::ostringstream os;
  os << "| benchmark | problems | K | avg@K (%) | pass@K (%) | mean tokens | no answer (%) | "
        "truncated (%) |\n"
     << "|---|---:|---:|---:|---:|---:|---:|---:|\n";
  auto row = [&](const std::string& name, const std::string& problems, const std::string& k,
                 double avg, double pass, double tokens, double no_answer, double truncated) {
    os << "| " << name << " | " << problems << " | " << k << " | " << fmt("%.1f", 100 * avg)
       << " | " << fmt("%.1f", 100 * pass) << " | " << fmt("%.0f", tokens) << " | "
       << fmt("%.1f", 100 * no_answer) << " | " << fmt("%.1f", 100 * truncated) << " |\n";
  };
  double avg = 0, pass = 0, tokens = 0, no_answer = 0, truncated = 0;
  for (const auto& r : results) {
    row(r.name, std::to_string(r.problems), std::to_string(r.samples), r.avg_at_k, r.pass_at_k,
        r.mean_response_tokens, r.no_answer_share, r.truncated_share);
    avg += r.avg_at_k;
    pass += r.pass_at_k;
    tokens += r.mean_response_tokens;
    no_answer += r.no_answer_share;
    truncated += r.truncated_share;
  }
  // The mean row weights benchmarks equally, as the Qwen2.5-Math tables do.
  if (results.size() > 1) {
    const double n = static_cast<double>(results.size());
    row("mean", "", "", avg / n, pass / n, tokens / n, no_answer / n, truncated / n);
  }
  return os.str();
}

}  // namespace popo
