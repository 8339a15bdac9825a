// Training and held-out problems of a run, prompted and tokenised once, and the data cursor:
// each epoch visits the training problems in an order shuffled by (seed, epoch); the cursor
// (epoch, index) is all a checkpoint needs to continue the same sequence of prompts.
// Sources: the built-in arithmetic task (data/arithmetic_task.h; held-out problems from another
// split of the task's hash partition, so never a training problem), a JSONL file or a benchmark name.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/math_dataset.h"
#include "train/train_config.h"
#include "train/warm_start.h"
#include "tokenizer/tokenizer.h"

namespace popo {

// One problem ready for the model.
struct PromptedProblem {
  std::string id;
  std::string problem;              // raw problem text (a conversation's last user turn)
  std::string answer;               // gold answer
  std::vector<int32_t> prompt_ids;  // templated and tokenised prompt
  std::vector<ChatMessage> messages;  // the conversation, when the dataset's prompt is one
  nlohmann::json metadata = nlohmann::json::object();  // the row's other fields, parsed once
                                                       // (command rewards' metadata)
  std::string prompt;                 // the templated prompt text (set with prompt_ids)

  // The problem as the data and eval layers see it.
  MathProblem math() const;
};

// Problems as text, before tokenisation (the built-in tokenizer is trained on them).
struct ProblemSets {
  std::vector<PromptedProblem> train;    // prompt_ids empty until tokenize_problems
  std::vector<PromptedProblem> heldout;
  std::vector<SftExample> warm_start;    // worked solutions (arithmetic only)
  std::vector<std::string> corpus;       // tokenizer training texts (arithmetic only)
};

// Returns the problem sets of cfg.data (reads files; no tokenisation).
ProblemSets load_problem_sets(const RunConfig& cfg);

// Returns the prompt text of a problem under the run's template (data.template): its
// conversation when it has one, else its problem text as the user turn.
std::string prompt_text(const RunConfig& cfg, const MathProblem& problem);

// Returns the dataset keys (data.prompt_key, answer_key, id_key) that a data.dataset or
// data.heldout value is read with: the config's for a file path, the data/ defaults for a
// registered benchmark name (those files are in the data/ format).
DataKeys dataset_keys(const RunConfig& cfg, const std::string& dataset);

// Fills prompt_ids of every problem and drops those longer than max_prompt_tokens; returns the
// number dropped.
int64_t tokenize_problems(std::vector<PromptedProblem>& problems, const RunConfig& cfg,
                          const Tokenizer& tok);

// The epoch-shuffled order over the training problems.
class DataCursor {
 public:
  DataCursor(int64_t num_problems, uint64_t seed, int64_t epoch = 0, int64_t index = 0);
  // Returns the next n problem indices, crossing epochs as needed.
  std::vector<int64_t> next(int64_t n);
  int64_t epoch() const { return epoch_; }
  int64_t index() const { return index_; }

 private:
  void shuffle_epoch();
  int64_t num_;
  uint64_t seed_;
  int64_t epoch_, index_;
  std::vector<int64_t> order_;
};

}  // namespace popo
