// Math problem sets: JSONL rows {id, problem, answer} (the data/ format), the benchmark
// registry (name -> file; the folder is default_data_dir() of core/paths.h), and a
// deterministic shuffle that gives the same order on every platform and standard library. What it does not do: prompt formatting (chat_template.h) or
// answer checking (reward/math_verifier.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/paths.h"  // default_data_dir(), which the callers of benchmark_path() use

namespace popo {

struct MathProblem {
  std::string id, problem, answer;
};

struct LoadReport {
  int skipped = 0;                 // rows without problem or answer (or with an empty answer)
  std::vector<int> skipped_lines;  // the first few skipped line numbers (from 1)
};

// Returns the problems of a JSONL file. A row without a string `problem` or without a non-empty
// `answer` (string or number) is skipped and counted in *report, or with strict throws
// popo::Error naming the file and line. A missing `id` becomes "<line number>". Bad JSON throws.
std::vector<MathProblem> load_math_jsonl(const std::string& path, bool strict,
                                         LoadReport* report = nullptr);
// The same over JSONL text in memory; origin names it in errors.
std::vector<MathProblem> load_math_jsonl_text(const std::string& text, const std::string& origin,
                                              bool strict, LoadReport* report = nullptr);

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
