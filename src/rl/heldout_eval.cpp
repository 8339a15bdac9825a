// Held-out greedy accuracy and pass@k through the sampler and the math verifier.
#include "rl/heldout_eval.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/io.h"

namespace popo {

std::vector<std::string> decode_responses(const RolloutBatch& batch, const Tokenizer& tok,
                                          std::vector<int64_t>* lengths) {
  auto ids = batch.response_ids.to(torch::kCPU).to(torch::kLong).contiguous();  // (N, R)
  auto mask = batch.response_mask.to(torch::kCPU).to(torch::kFloat).contiguous();  // (N, R)
  const int64_t N = ids.size(0), R = ids.size(1);
  const int64_t* pid = ids.data_ptr<int64_t>();
  const float* pm = mask.data_ptr<float>();
  std::vector<std::string> out(N);
  if (lengths) lengths->assign(N, 0);
  for (int64_t i = 0; i < N; ++i) {
    std::vector<int32_t> row;
    for (int64_t t = 0; t < R; ++t) {
      if (pm[i * R + t] > 0) row.push_back(static_cast<int32_t>(pid[i * R + t]));
    }
    if (lengths) (*lengths)[i] = static_cast<int64_t>(row.size());
    out[i] = tok.decode(row, /*skip_special_tokens=*/true);
  }
  return out;
}

double math_reward(const std::string& response, const std::string& gold, const VerifyOptions& opt) {
  return verify(response, gold, opt).verdict == Verdict::kCorrect ? 1.0 : 0.0;
}

HeldoutResult evaluate_heldout(CausalLM& model, const Tokenizer& tokenizer,
                               const std::vector<PromptedProblem>& problems,
                               const HeldoutOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  HeldoutResult res;
  res.num_problems = static_cast<int64_t>(problems.size());
  res.k = std::max<int64_t>(1, opt.samples);
  res.rows.resize(problems.size());
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  int64_t correct = 0, tokens = 0, any_correct = 0, sample_correct = 0;
  const int64_t bs = std::max<int64_t>(1, opt.batch_size);
  for (size_t begin = 0; begin < problems.size(); begin += static_cast<size_t>(bs)) {
    const size_t end = std::min(problems.size(), begin + static_cast<size_t>(bs));
    std::vector<std::vector<int32_t>> prompts;
    for (size_t i = begin; i < end; ++i) prompts.push_back(problems[i].prompt_ids);
    // 1. Greedy answers.
    SamplingConfig greedy;
    greedy.temperature = 0.0;
    greedy.top_p = 1.0;
    greedy.top_k = 0;
    greedy.max_new_tokens = opt.max_new_tokens;
    greedy.group_size = 1;
    greedy.seed = opt.seed;
    greedy.eos_token_ids = {opt.eos_token_ids.begin(), opt.eos_token_ids.end()};
    greedy.stop_strings = opt.stop_strings;
    RolloutBatch gb = generate(model, prompts, greedy, &tokenizer);
    std::vector<int64_t> lengths;
    auto texts = decode_responses(gb, tokenizer, &lengths);
    for (size_t i = begin; i < end; ++i) {
      HeldoutRow& row = res.rows[i];
      row.id = problems[i].id;
      row.problem = problems[i].problem;
      row.answer = problems[i].answer;
      row.response = texts[i - begin];
      VerifyResult v = verify(row.response, problems[i].answer, opt.verify);
      row.extracted = v.extracted.answer;
      row.correct = v.verdict == Verdict::kCorrect;
      correct += row.correct ? 1 : 0;
      tokens += lengths[i - begin];
    }
    // 2. k samples per problem for pass@k.
    if (res.k > 1) {
      SamplingConfig sampled = greedy;
      sampled.temperature = opt.temperature;
      sampled.top_p = opt.top_p;
      sampled.group_size = res.k;
      sampled.seed = opt.seed + begin;
      RolloutBatch sb = generate(model, prompts, sampled, &tokenizer);
      auto stexts = decode_responses(sb, tokenizer, nullptr);
      for (size_t i = begin; i < end; ++i) {
        int64_t c = 0;
        for (int64_t j = 0; j < res.k; ++j) {
          c += math_reward(stexts[(i - begin) * res.k + j], problems[i].answer, opt.verify) > 0;
        }
        res.rows[i].correct_samples = c;
        sample_correct += c;
        any_correct += c > 0 ? 1 : 0;
      }
    }
  }
  if (was_training) model->train();
  const double n = std::max<double>(1.0, static_cast<double>(problems.size()));
  res.accuracy = static_cast<double>(correct) / n;
  res.mean_response_tokens = static_cast<double>(tokens) / n;
  if (res.k > 1) {
    res.pass_at_k = static_cast<double>(any_correct) / n;
    res.mean_at_k = static_cast<double>(sample_correct) / (n * static_cast<double>(res.k));
  } else {
    res.pass_at_k = res.accuracy;
    res.mean_at_k = res.accuracy;
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

std::string write_heldout_tables(const HeldoutResult& result, const std::string& dir, int64_t step) {
  char name[64];
  std::snprintf(name, sizeof(name), "eval_step-%06lld", static_cast<long long>(step));
  std::ostringstream jsonl;
  for (const auto& r : result.rows) {
    nlohmann::json j{{"id", r.id},          {"problem", r.problem},
                     {"answer", r.answer},  {"response", r.response},
                     {"extracted", r.extracted}, {"correct", r.correct},
                     {"correct_samples", r.correct_samples}};
    jsonl << j.dump() << "\n";
  }
  write_file_atomic(path_join(dir, std::string(name) + ".jsonl"), jsonl.str());
  std::ostringstream md;
  md << "# Held-out evaluation at step " << step << "\n\n";
  md << "| problems | greedy accuracy | k | pass@k | mean@k | mean response tokens | seconds |\n";
  md << "|---:|---:|---:|---:|---:|---:|---:|\n";
  char line[256];
  std::snprintf(line, sizeof(line), "| %lld | %.1f%% | %lld | %.1f%% | %.1f%% | %.1f | %.1f |\n",
                static_cast<long long>(result.num_problems), 100 * result.accuracy,
                static_cast<long long>(result.k), 100 * result.pass_at_k, 100 * result.mean_at_k,
                result.mean_response_tokens, result.seconds);
  md << line
     << "\n| id | problem | gold | correct | extracted | response |\n|---|---|---|---|---|---|\n";
  // Returns s on one table cell: no newlines or pipes, at most max_chars characters.
  auto cell = [](std::string s, size_t max_chars) {
    for (char& c : s) {
      if (c == '\n' || c == '|') c = ' ';
    }
    if (s.size() > max_chars) s = s.substr(0, max_chars) + "...";
    return s;
  };
  const size_t shown = std::min<size_t>(result.rows.size(), 20);
  for (size_t i = 0; i < shown; ++i) {
    const HeldoutRow& r = result.rows[i];
    md << "| " << r.id << " | " << cell(r.problem, 80) << " | " << cell(r.answer, 40) << " | "
       << (r.correct ? "yes" : "no") << " | " << r.extracted << " | " << cell(r.response, 120)
       << " |\n";
  }
  const std::string md_path = path_join(dir, std::string(name) + ".md");
  write_file_atomic(md_path, md.str());
  return md_path;
}

}  // namespace popo
