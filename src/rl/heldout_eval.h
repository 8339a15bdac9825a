// Held-out evaluation during training: greedy accuracy on held-out problems, optionally k
// sampled answers per problem for pass@k, with per-problem rows for the run's eval tables.
// Uses the same sampler and verifier as the rollouts, so a held-out number is exactly what the
// trainer would have rewarded. Not the benchmark evaluator (src/eval): no avg@k over many seeds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/causal_lm.h"
#include "reward/math_verifier.h"
#include "sampling/generate.h"
#include "tokenizer/tokenizer.h"

namespace popo {

// One problem ready for the model.
struct PromptedProblem {
  std::string id;
  std::string problem;               // raw problem text
  std::string answer;                // gold answer
  std::vector<int32_t> prompt_ids;   // templated and tokenised prompt
};

struct HeldoutOptions {
  int64_t max_new_tokens = 64;        // response budget
  std::vector<int64_t> eos_token_ids; // stop tokens
  std::vector<std::string> stop_strings;
  int64_t samples = 1;                // k answers per problem for pass@k (1 = greedy only)
  double temperature = 1.0;           // temperature of the k samples
  double top_p = 1.0;
  uint64_t seed = 0;                  // seed of the k samples
  int64_t batch_size = 64;            // prompts per generate call
  VerifyOptions verify;               // verifier options (GSM8K: allow_last_number)
};

struct HeldoutRow {
  std::string id;
  std::string problem;   // raw problem text
  std::string answer;    // gold answer
  std::string response;  // greedy response text
  std::string extracted; // answer read from it
  bool correct = false;  // greedy verdict
  int64_t correct_samples = 0;  // of the k samples (samples > 1)
};

struct HeldoutResult {
  int64_t num_problems = 0;
  double accuracy = 0;        // greedy accuracy
  double pass_at_k = 0;       // share of problems with >= 1 correct of k samples (k > 1)
  double mean_at_k = 0;       // mean accuracy of the k samples (avg@k; k > 1)
  int64_t k = 1;
  double mean_response_tokens = 0;  // greedy responses
  double seconds = 0;
  std::vector<HeldoutRow> rows;
};

// Returns the decoded text of each response row of batch (tokens where response_mask is 1,
// special tokens dropped) and, when lengths is given, each row's token count.
std::vector<std::string> decode_responses(const RolloutBatch& batch, const Tokenizer& tok,
                                          std::vector<int64_t>* lengths);

// Returns the reward of one response: 1 when verify() says correct, else 0.
double math_reward(const std::string& response, const std::string& gold, const VerifyOptions& opt);

// Returns the held-out result of model on problems (greedy, plus k samples when opt.samples > 1).
HeldoutResult evaluate_heldout(CausalLM& model, const Tokenizer& tokenizer,
                               const std::vector<PromptedProblem>& problems,
                               const HeldoutOptions& opt);

// Writes result as a markdown table (summary + first rows) and a JSONL of every row into dir,
// named eval_step-NNNNNN.{md,jsonl}. Returns the .md path.
std::string write_heldout_tables(const HeldoutResult& result, const std::string& dir, int64_t step);

}  // namespace popo
