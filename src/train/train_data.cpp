// Problem sets of a run (arithmetic task, JSONL, benchmarks) and the epoch-shuffled data cursor.
#include "train/train_data.h"

#include <algorithm>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/rng.h"
#include "data/arithmetic_task.h"
#include "data/math_dataset.h"
#include "tokenizer/chat_template.h"

namespace popo {

namespace {

PromptedProblem from_math(const MathProblem& r) {
  PromptedProblem p;
  p.id = r.id;
  p.problem = r.problem;
  p.answer = r.answer;
  p.messages = r.messages;
  p.metadata = nlohmann::json::parse(r.metadata_json);
  return p;
}

std::vector<PromptedProblem> from_math(const std::vector<MathProblem>& rows) {
  std::vector<PromptedProblem> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(from_math(r));
  return out;
}

PromptedProblem from_text(const std::string& id, const std::string& problem,
                          const std::string& answer) {
  MathProblem m;
  m.id = id;
  m.problem = problem;
  m.answer = answer;
  return from_math(m);
}

std::vector<PromptedProblem> load_file_problems(const RunConfig& cfg, const std::string& name,
                                                const char* key) {
  const std::string path = resolve_dataset_path(name);
  LoadReport report;
  const DataKeys keys = dataset_keys(cfg, name);
  auto rows = load_math_jsonl(path, /*strict=*/false, &report, keys);
  if (report.skipped > 0) {
    std::string lines;
    for (int l : report.skipped_lines) lines += (lines.empty() ? "" : ", ") + std::to_string(l);
    LOG_WARN(key, ": skipped ", report.skipped, " rows of ", path, " without a prompt ('",
             keys.prompt, "') or an answer ('", keys.answer, "'): lines ", lines,
             report.skipped > static_cast<int>(report.skipped_lines.size()) ? ", ..." : "");
  }
  POPO_CHECK(!rows.empty(), key, " '", name, "': no usable problems in ", path, " (read with ",
             "data.prompt_key='", keys.prompt, "', data.answer_key='", keys.answer, "')");
  return from_math(rows);
}

}  // namespace

MathProblem PromptedProblem::math() const {
  MathProblem m;
  m.id = id;
  m.problem = problem;
  m.answer = answer;
  m.messages = messages;
  m.metadata_json = metadata.dump();
  return m;
}

std::string prompt_text(const RunConfig& cfg, const MathProblem& problem) {
  note_config_read("data.template");
  return problem_prompt(cfg.data.template_name, problem);
}

DataKeys dataset_keys(const RunConfig& cfg, const std::string& dataset) {
  DataKeys keys;
  const auto names = benchmark_names();
  if (dataset == "arithmetic" || std::find(names.begin(), names.end(), dataset) != names.end())
    return keys;
  note_config_read({"data.prompt_key", "data.answer_key", "data.id_key"});
  keys.prompt = cfg.data.prompt_key;
  keys.answer = cfg.data.answer_key;
  keys.id = cfg.data.id_key;
  return keys;
}

ProblemSets load_problem_sets(const RunConfig& cfg) {
  ProblemSets sets;
  const uint64_t seed = static_cast<uint64_t>(cfg.trainer.seed);
  const ArithmeticConfig& a = cfg.data.arithmetic;
  // 1. Training problems (and the worked solutions of the warm start).
  note_config_read({"data.dataset", "data.heldout", "data.heldout_size"});
  if (cfg.data.dataset == "arithmetic") {
    note_config_read({"data.train_size", "data.seed"});
    note_config_section_read("data.arithmetic", a);
    auto problems = make_arithmetic_problems(a, static_cast<int>(cfg.data.train_size),
                                             derive_seed(cfg.data.seed, "arithmetic_train", 0),
                                             ArithmeticSplit::kTrain);
    for (const auto& p : problems) {
      sets.train.push_back(from_text(p.id, p.prompt, p.answer));
      sets.warm_start.push_back(SftExample{prompt_text(cfg, sets.train.back().math()), " " + p.solution});
    }
    sets.corpus = arithmetic_corpus(a, /*num_examples=*/2000, cfg.data.seed);
    for (const auto& e : sets.warm_start) {
      if (sets.corpus.size() >= 6000) break;
      sets.corpus.push_back(e.prompt + e.target);
    }
  } else {
    sets.train = load_file_problems(cfg, cfg.data.dataset, "data.dataset");
  }
  // 2. Held-out problems.
  if (cfg.data.heldout == "arithmetic") {
    note_config_read("data.heldout_seed");
    note_config_section_read("data.arithmetic", a);
    // The task's hash partition keeps held-out expressions out of every training pool.
    const int64_t want = cfg.data.heldout_size > 0 ? cfg.data.heldout_size : 200;
    auto problems = make_arithmetic_problems(a, static_cast<int>(want),
                                             derive_seed(cfg.data.heldout_seed, "arithmetic_heldout", 0),
                                             ArithmeticSplit::kHeldout);
    for (const auto& p : problems) {
      sets.heldout.push_back(from_text(p.id, p.prompt, p.answer));
    }
  } else if (cfg.data.heldout.empty()) {
    // Split: the last heldout_size problems of a seeded shuffle of the training set.
    std::vector<MathProblem> rows;
    for (const auto& p : sets.train) rows.push_back(p.math());
    shuffle_problems(rows, derive_seed(seed, "heldout_split", 0));
    const int64_t n = std::min<int64_t>(cfg.data.heldout_size, static_cast<int64_t>(rows.size()) - 1);
    POPO_CHECK(n > 0, "data.heldout = \"\": the training set has too few problems to split");
    std::vector<MathProblem> held(rows.end() - n, rows.end());
    rows.resize(rows.size() - n);
    sets.train = from_math(rows);
    sets.heldout = from_math(held);
  } else {
    sets.heldout = load_file_problems(cfg, cfg.data.heldout, "data.heldout");
    if (cfg.data.heldout_size > 0 &&
        static_cast<int64_t>(sets.heldout.size()) > cfg.data.heldout_size) {
      sets.heldout.resize(cfg.data.heldout_size);
    }
  }
  return sets;
}

int64_t tokenize_problems(std::vector<PromptedProblem>& problems, const RunConfig& cfg,
                          const Tokenizer& tok) {
  int64_t dropped = 0;
  std::vector<PromptedProblem> kept;
  kept.reserve(problems.size());
  note_config_read("data.max_prompt_tokens");
  for (auto& p : problems) {
    p.prompt = prompt_text(cfg, p.math());
    p.prompt_ids = tok.encode(p.prompt);
    if (static_cast<int64_t>(p.prompt_ids.size()) > cfg.data.max_prompt_tokens ||
        p.prompt_ids.empty()) {
      ++dropped;
      continue;
    }
    kept.push_back(std::move(p));
  }
  problems = std::move(kept);
  return dropped;
}

DataCursor::DataCursor(int64_t num_problems, uint64_t seed, int64_t epoch, int64_t index)
    : num_(num_problems), seed_(seed), epoch_(epoch), index_(index) {
  POPO_CHECK(num_ > 0, "data cursor: no training problems");
  POPO_CHECK(index_ >= 0 && index_ <= num_, "data cursor: index ", index_, " outside [0, ", num_, "]");
  shuffle_epoch();
}

void DataCursor::shuffle_epoch() {
  order_.resize(num_);
  for (int64_t i = 0; i < num_; ++i) order_[i] = i;
  Rng rng(derive_seed(seed_, "epoch_order", static_cast<uint64_t>(epoch_)));
  for (int64_t i = num_; i > 1; --i) {
    std::swap(order_[i - 1], order_[rng.uniform_below(static_cast<uint64_t>(i))]);
  }
}

std::vector<int64_t> DataCursor::next(int64_t n) {
  std::vector<int64_t> out;
  out.reserve(n);
  while (static_cast<int64_t>(out.size()) < n) {
    if (index_ == num_) {
      ++epoch_;
      index_ = 0;
      shuffle_epoch();
    }
    out.push_back(order_[index_++]);
  }
  return out;
}

}  // namespace popo
