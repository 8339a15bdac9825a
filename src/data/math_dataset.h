// Math problem sets: JSONL (or JSON-array) rows {id, problem, answer} (the data/ format), or
// any other layout named by DataKeys (dotted paths such as verl's `reward_model.ground_truth`,
// a prompt that is a list of chat messages), the benchmark
// registry (name -> file; the folder is default_data_dir() of core/paths.h), and a
// deterministic shuffle that gives the same order on every platform and standard library. What it does not do: prompt formatting (chat_template.h) or
// answer checking (reward/math_verifier.h).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/paths.h"  // default_data_dir(), which the callers of benchmark_path() use
#include "tokenizer/chat_template.h"

namespace popo {

struct MathProblem {
  MathProblem() = default;
  MathProblem(std::string id_, std::string problem_, std::string answer_)
      : id(std::move(id_)), problem(std::move(problem_)), answer(std::move(answer_)) {}

  std::string id, problem, answer;
  // When the prompt field is a list of {role, content} messages: the conversation (problem is
  // then the content of its last user message, for logs). Empty for a text prompt.
  std::vector<ChatMessage> messages;
  // The row's other fields as a JSON object text ("{}" when none): what command rewards get as
  // `metadata` (reward/reward_command.h).
  std::string metadata_json = "{}";
};

// Where a row keeps its fields: dotted paths into the row's JSON object ("reward_model.
// ground_truth" is row["reward_model"]["ground_truth"]). The data/ files use the defaults.
struct DataKeys {
  std::string prompt = "problem";  // a string, or a list of {role, content} messages
  std::string answer = "answer";   // a string or a number
  std::string id = "id";           // a string or a number; missing: the row's number
};

struct LoadReport {
  int skipped = 0;                 // rows without problem or answer (or with an empty answer)
  std::vector<int> skipped_lines;  // the first few skipped line numbers (from 1)
};

// Returns the problems of a JSONL file, or of a JSON file holding one array of row objects (its
// first non-blank character is '['; "lines" are then the rows' positions from 1). A row without
// a prompt (a string, or a non-empty list of {role, content} messages with roles system, user
// or assistant and at least one user turn) or without a non-empty answer (string or number) is
// skipped and counted in *report, or with strict throws popo::Error naming the file, the line
// and the key. A missing id becomes "<line number>". Bad JSON throws.
std::vector<MathProblem> load_math_jsonl(const std::string& path, bool strict,
                                         LoadReport* report = nullptr, const DataKeys& keys = {});
// The same over text in memory; origin names it in errors.
std::vector<MathProblem> load_math_jsonl_text(const std::string& text, const std::string& origin,
                                              bool strict, LoadReport* report = nullptr,
                                              const DataKeys& keys = {});

// Returns the prompt text of a problem under a chat template: its conversation through
// render_chat (with the generation prompt) when it has one, else its problem text as the one
// user turn (apply_chat_template). Throws popo::Error when the template cannot render the
// conversation (e.g. "plain" with a system turn), naming the problem.
std::string problem_prompt(const std::string& template_name, const MathProblem& problem);

// Returns the registered benchmark names: aime2025, aime2024, amc23, math500, minerva,
// olympiadbench, gsm8k.
std::vector<std::string> benchmark_names();

// Returns data_dir/<file> for a benchmark name (gsm8k -> gsm8k_test.jsonl); throws popo::Error
// listing the known names for an unknown one.
std::string benchmark_path(const std::string& name, const std::string& data_dir);

// Returns true for benchmarks whose answers are plain numbers found as the response's last
// number when nothing is boxed (gsm8k).
bool benchmark_uses_last_number(const std::string& name);

// Shuffles problems in place with Fisher-Yates driven by splitmix64(seed): the same order for
// the same seed on every platform (std::shuffle's order differs between standard libraries).
void shuffle_problems(std::vector<MathProblem>& problems, uint64_t seed);

}  // namespace popo
