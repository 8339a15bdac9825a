// Benchmark evaluation: K sampled (or greedy) responses per problem, each judged by the math
// verifier, summarised as avg@K (mean accuracy over all K samples) and pass@K (the unbiased
// estimator of Chen et al. 2021, "Evaluating Large Language Models Trained on Code", §2.1), with
// the mean response length and the share of responses without an extractable answer. Defaults
// follow the Qwen2.5-Math evaluation conventions (greedy for K = 1, temperature 0.6 / top-p 0.95
// otherwise, the qwen-boxed prompt). Used by `popo eval` and by the trainer's held-out evaluation.
// Not here: loading models or files (tools/cmd_eval.cpp), the trainer's split of the held-out
// set over data-parallel ranks (train/trainer.cpp, through evaluate_samples()).
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "data/math_dataset.h"
#include "model/causal_lm.h"
#include "reward/math_verifier.h"

namespace popo {

class Tokenizer;

struct EvalOptions {
  std::string name = "eval";                 // benchmark label in the summary and progress line
  std::string template_name = "qwen-boxed";  // chat_template.h name wrapping each problem
  int samples = 1;                           // K responses per problem (>= 1)
  double temperature = -1;                   // < 0: Qwen2.5-Math default (0 when K = 1, else 0.6)
  double top_p = -1;                         // <= 0: default (1 when K = 1, else 0.95)
  int64_t top_k = 0;                         // 0 disables
  int64_t max_new_tokens = 0;                // 0: the model's context minus the longest prompt
  int batch_rollouts = 64;                   // rollouts per generate call (prompts * K); >= K used
  uint64_t seed = 0;                         // sampling seed (batch b uses a seed derived from it)
  bool last_number = false;                  // also accept the response's last number as answer
                                             // (always on for benchmarks that use it, e.g. gsm8k)
  std::vector<int64_t> eos_token_ids;        // empty: model config + <|im_end|> / <|endoftext|>
  std::vector<std::string> stop_strings;     // extra stop strings (a template may add its own)
  VerifyOptions verify;       // verifier limits (allow_last_number is set from above)
  bool show_progress = true;  // progress bar / lines on stderr; false = silent
};

// One judged response.
struct EvalSample {
  int problem = 0;              // index into the problem list
  int sample = 0;               // 0..K-1
  std::string id;               // problem id
  std::string prompt;           // prompt text (after the chat template)
  std::string response;         // decoded response (special tokens dropped)
  std::string gold;             // reference answer
  std::string extracted;        // extracted answer ("" when none)
  std::string rule;             // extraction rule: none | boxed | answer_is | last_number
  std::string verdict;          // correct | incorrect | no_answer
  std::string finish;           // stop | stop_string | length | prompt_too_long
  int64_t response_tokens = 0;  // generated tokens, EOS included
  bool correct = false;
};

struct EvalResult {
  std::string name;
  int problems = 0;                      // problems evaluated
  int samples = 0;                       // K responses per problem
  int64_t responses = 0;                 // problems * samples
  int64_t correct = 0;                   // correct responses over all problems and samples
  int64_t no_answer = 0;                 // responses without an extractable answer
  int64_t truncated = 0;                 // responses cut by the token budget (finish = length)
  double avg_at_k = 0;                   // correct / responses
  double pass_at_k = 0;                  // mean over problems of pass_at_k(K, c_i, K)
  double mean_response_tokens = 0;       // mean generated tokens per response
  double no_answer_share = 0;            // no_answer / responses
  double truncated_share = 0;            // truncated / responses
  double seconds = 0;                    // wall time of the evaluation (0 when only summarised)
  double temperature = 0, top_p = 1;     // sampling settings used
  std::vector<int> correct_per_problem;  // c_i, in problem order
};

// Returns pass@k = 1 - C(n-c, k) / C(n, k), the chance that at least one of k responses drawn
// without replacement from n (c of them correct) is correct, computed as the product
// 1 - prod_{i=n-c+1..n} (1 - k / i) (no huge binomials). Returns 1 when n - c < k. Throws
// popo::Error unless 0 <= c <= n and 1 <= k <= n.
double pass_at_k(int n, int c, int k);

// Returns the mean over problems of pass_at_k(n, c_i, k) for the correct counts c_i of n samples
// each (0 for no problem). Throws popo::Error as pass_at_k does.
double mean_pass_at_k(const std::vector<int>& correct_per_problem, int n, int k);

// Returns options with temperature / top_p resolved to the Qwen2.5-Math defaults where left
// unset (< 0 / <= 0). Throws popo::Error for samples < 1 or an unknown template name.
EvalOptions resolve_eval_options(const EvalOptions& options);

// Returns the judged sample of one response: extraction + verification against problem.answer,
// with the last-number fallback when options.last_number.
EvalSample judge_response(const MathProblem& problem, int problem_index, int sample_index,
                          const std::string& prompt, const std::string& response,
                          int64_t response_tokens, const std::string& finish,
                          const EvalOptions& options);

// Returns the summary of judged samples over num_problems problems with k samples each (every
// problem must have exactly k samples). Throws popo::Error on a missing or extra sample.
EvalResult summarize_samples(const std::string& name, int num_problems, int k,
                             const std::vector<EvalSample>& samples);

// Returns the per-sample JSONL text: one object per sample (id, sample, prompt, response, gold,
// extracted, rule, verdict, correct, response_tokens, finish), in problem then sample order.
std::string samples_to_jsonl(const std::vector<EvalSample>& samples);

// Returns a result as a JSON object (all fields but correct_per_problem).
nlohmann::json eval_result_to_json(const EvalResult& result);

// Returns the evaluation of model on problems: each problem is wrapped by the chat template,
// encoded, and answered options.samples times (batches of about options.batch_rollouts rollouts,
// prompts sorted by length); each response is decoded and judged. When out_jsonl is not "", the
// per-sample JSONL is written there atomically. Problems whose prompt fills the model's context
// get empty responses (finish "prompt_too_long", no answer) with a warning. Runs under
// NoGradGuard with the model in eval mode; throws popo::Error on an empty problem list.
EvalResult evaluate(CausalLM& model, const Tokenizer& tokenizer,
                    const std::vector<MathProblem>& problems, const EvalOptions& options,
                    const std::string& out_jsonl);

// Returns the judged samples of evaluate() (problem = index into problems), without the summary
// or the file: the part of an evaluation a data-parallel rank runs on its shard of problems.
std::vector<EvalSample> evaluate_samples(CausalLM& model, const Tokenizer& tokenizer,
                                         const std::vector<MathProblem>& problems, const EvalOptions& options);

// Returns the summary of an evaluation's samples (summarize_samples with the resolved name and
// K) with the sampling settings of options and the given wall time.
EvalResult summarize_evaluation(const EvalOptions& options, int num_problems, const std::vector<EvalSample>& samples,
                                double seconds);

// Returns a sample as a JSON object with every field (problem index included), and back; throws
// popo::Error naming the field when one is missing or of the wrong type.
nlohmann::json eval_sample_to_json(const EvalSample& sample);
EvalSample eval_sample_from_json(const nlohmann::json& j);

// Returns a markdown table: one row per result (benchmark, problems, K, avg@K %, pass@K %, mean
// tokens, no answer %, truncated %), plus a mean row over benchmarks when there are several.
std::string format_eval_table(const std::vector<EvalResult>& results);

}  // namespace popo
