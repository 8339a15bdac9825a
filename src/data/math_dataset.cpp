// Math problem sets; see math_dataset.h.
#include "data/math_dataset.h"

#include <algorithm>
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


// Returns the value at a dotted path of a row object, or nullptr.
const nlohmann::json* at_path(const nlohmann::json& row, const std::string& path) {
  const nlohmann::json* cur = &row;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? dot : dot - start);
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(part);
    if (it == cur->end()) return nullptr;
    cur = &*it;
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

// Removes the value at a dotted path from row, and the objects it leaves empty.
void erase_path(nlohmann::json& row, const std::string& path) {
  const size_t dot = path.find('.');
  if (!row.is_object()) return;
  if (dot == std::string::npos) {
    row.erase(path);
    return;
  }
  const std::string head = path.substr(0, dot);
  auto it = row.find(head);
  if (it == row.end()) return;
  erase_path(*it, path.substr(dot + 1));
  if (it->is_object() && it->empty()) row.erase(head);
}

// Reads a prompt that is a list of messages into p; returns why not ("" when it worked).
std::string read_messages(const nlohmann::json& v, const std::string& key, MathProblem* p) {
  if (v.empty()) return "'" + key + "' is an empty list of messages";
  for (size_t i = 0; i < v.size(); ++i) {
    const nlohmann::json& m = v[i];
    const std::string at = "'" + key + "'[" + std::to_string(i) + "]";
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string() ||
        !m.contains("content") || !m["content"].is_string())
      return at + " is not a {role, content} message with string fields";
    const std::string role = m["role"].get<std::string>();
    if (role != "system" && role != "user" && role != "assistant")
      return at + " has role '" + role + "' (expected system, user or assistant)";
    p->messages.push_back(ChatMessage{role, m["content"].get<std::string>()});
    if (role == "user") p->problem = p->messages.back().content;
  }
  if (p->problem.empty() && !std::any_of(p->messages.begin(), p->messages.end(),
                                         [](const ChatMessage& m) { return m.role == "user"; }))
    return "'" + key + "' has no user message";
  return "";
}

}  // namespace

std::vector<MathProblem> load_math_jsonl(const std::string& path, bool strict,
                                         LoadReport* report, const DataKeys& keys) {
  return load_math_jsonl_text(read_file(path), path, strict, report, keys);
}

std::vector<MathProblem> load_math_jsonl_text(const std::string& text, const std::string& path,
                                              bool strict, LoadReport* report,
                                              const DataKeys& keys) {
  std::vector<MathProblem> out;
  LoadReport local;
  auto visit = [&](const nlohmann::json& row, int line) {
    std::string why;
    MathProblem p;
    const nlohmann::json* prompt = row.is_object() ? at_path(row, keys.prompt) : nullptr;
    const nlohmann::json* answer = row.is_object() ? at_path(row, keys.answer) : nullptr;
    if (!row.is_object()) {
      why = "row is not a JSON object";
    } else if (!prompt || !(prompt->is_string() || prompt->is_array())) {
      why = "missing field '" + keys.prompt + "' (a string or a list of {role, content} messages)";
    } else if (prompt->is_array() && !(why = read_messages(*prompt, keys.prompt, &p)).empty()) {
      // why is set
    } else if (!answer || answer_text(*answer).empty()) {
      why = "missing or empty '" + keys.answer + "'";
    }
    if (!why.empty()) {
      POPO_CHECK(!strict, path, ":", line, ": ", why);
      ++local.skipped;
      if (local.skipped_lines.size() < kSkippedLinesKept) local.skipped_lines.push_back(line);
      return;
    }
    const nlohmann::json* id = at_path(row, keys.id);
    if (id && id->is_string()) {
      p.id = id->get<std::string>();
    } else if (id && id->is_number()) {
      p.id = id->dump();
    } else {
      p.id = std::to_string(line);
    }
    if (prompt->is_string()) p.problem = prompt->get<std::string>();
    p.answer = answer_text(*answer);
    nlohmann::json rest = row;
    for (const std::string* k : {&keys.prompt, &keys.answer, &keys.id}) erase_path(rest, *k);
    p.metadata_json = rest.dump();
    out.push_back(std::move(p));
  };
  // A JSON array of rows (an HF dataset's to_json(lines=False)), or JSONL.
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '[') {
    nlohmann::json rows;
    try {
      rows = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      POPO_FAIL(path, ": not valid JSON (a file that starts with '[' is read as one JSON array "
                "of rows): ", e.what());
    }
    for (size_t i = 0; i < rows.size(); ++i) visit(rows[i], static_cast<int>(i + 1));
  } else {
    for_each_jsonl_text(text, path, visit);
  }
  if (report) *report = local;
  return out;
}

std::string problem_prompt(const std::string& template_name, const MathProblem& problem) {
  if (problem.messages.empty()) return apply_chat_template(template_name, problem.problem);
  try {
    return render_chat(template_name, problem.messages, /*add_generation_prompt=*/true);
  } catch (const Error& e) {
    POPO_FAIL("problem '", problem.id, "': its conversation of ", problem.messages.size(),
              " messages: ", e.what());
  }
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
