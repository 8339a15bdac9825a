// Math problem sets; see math_dataset.h.
#include "data/math_dataset.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/error.h"
#include "core/rng.h"
#include "core/io.h"

namespace popo {

namespace {

constexpr size_t kSkippedLinesKept = 10;

struct Benchmark {
  const char* name;
  const char* file;
  bool last_number;
};

const Benchmark kBenchmarks[] = {
    {"aime2025", "aime2025.jsonl", false},   {"aime2024", "aime2024.jsonl", false},
    {"amc23", "amc23.jsonl", false},         {"math500", "math500.jsonl", false},
    {"minerva", "minerva.jsonl", false},     {"olympiadbench", "olympiadbench.jsonl", false},
    {"gsm8k", "gsm8k_test.jsonl", true},
};

const Benchmark* find_benchmark(const std::string& name) {
  for (const auto& b : kBenchmarks)
    if (name == b.name) return &b;
  return nullptr;
}

// Returns the answer field as text: strings as they are, integral numbers without ".0".
std::string answer_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15)
      return std::to_string(static_cast<long long>(d));
    return v.dump();
  }
  return "";
}

}  // namespace

std::vector<MathProblem> load_math_jsonl(const std::string& path, bool strict,
                                         LoadReport* report) {
  return load_math_jsonl_text(read_file(path), path, strict, report);
}

std::vector<MathProblem> load_math_jsonl_text(const std::string& text, const std::string& path,
                                              bool strict, LoadReport* report) {
  std::vector<MathProblem> out;
  LoadReport local;
  for_each_jsonl_text(text, path, [&](const nlohmann::json& row, int line) {
    std::string why;
    if (!row.is_object()) {
      why = "row is not a JSON object";
    } else if (!row.contains("problem") || !row["problem"].is_string()) {
      why = "missing string field 'problem'";
    } else if (!row.contains("answer") || answer_text(row["answer"]).empty()) {
      why = "missing or empty 'answer'";
    }
    if (!why.empty()) {
      POPO_CHECK(!strict, path, ":", line, ": ", why);
      ++local.skipped;
      if (local.skipped_lines.size() < kSkippedLinesKept) local.skipped_lines.push_back(line);
      return;
    }
    MathProblem p;
    if (row.contains("id") && row["id"].is_string()) {
      p.id = row["id"].get<std::string>();
    } else if (row.contains("id") && row["id"].is_number()) {
      p.id = row["id"].dump();
    } else {
      p.id = std::to_string(line);
    }
    p.problem = row["problem"].get<std::string>();
    p.answer = answer_text(row["answer"]);
    out.push_back(std::move(p));
  });
  if (report) *report = local;
  return out;
}

std::vector<std::string> benchmark_names() {
  std::vector<std::string> names;
  for (const auto& b : kBenchmarks) names.push_back(b.name);
  return names;
}

std::string benchmark_path(const std::string& name, const std::string& data_dir) {
  const Benchmark* b = find_benchmark(name);
  if (!b) {
    std::string known;
    for (const auto& k : kBenchmarks) known += (known.empty() ? "" : ", ") + std::string(k.name);
    POPO_FAIL("unknown benchmark '", name, "'; known: ", known);
  }
  return path_join(data_dir, b->file);
}

bool benchmark_uses_last_number(const std::string& name) {
  const Benchmark* b = find_benchmark(name);
  return b && b->last_number;
}

void shuffle_problems(std::vector<MathProblem>& problems, uint64_t seed) {
  uint64_t state = seed;
  for (size_t i = problems.size(); i > 1; --i) {
    // Uniform j in [0, i) by rejection, so the result does not depend on modulo bias.
    uint64_t bound = static_cast<uint64_t>(i);
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t r;
    do {
      r = splitmix64(state);
    } while (r >= limit);
    size_t j = static_cast<size_t>(r % bound);
    std::swap(problems[i - 1], problems[j]);
  }
}

}  // namespace popo
