// evaluate(): prompts -> sampler (sampling/generate.h) -> decode -> verifier -> EvalResult. The
// arithmetic (pass@k, aggregation, tables) lives in eval_scoring.cpp. Mirrors the loop of
// Qwen2.5-Math's evaluation/math_eval.py (chat template, K samples, stop words, extraction,
// grading), with batching by rollouts and prompts sorted by length to limit padding.
#include "eval/evaluator.h"

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <numeric>
#include <set>
#include <thread>

#include "core/error.h"
#include "core/io.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/rng.h"
#include "sampling/generate.h"
#include "tokenizer/chat_template.h"
#include "sampling/stop_tokens.h"
#include "tokenizer/tokenizer.h"

namespace popo {

namespace {

// Returns the EOS ids: the given ones, else resolve_stop_tokens() of the model's config and
// tokenizer (the caller that knows the model folder passes its resolution, generation_config.json
// included).
std::vector<int64_t> eos_ids_for(const CausalLM& model, const Tokenizer& tokenizer,
                                 const EvalOptions& o) {
  if (!o.eos_token_ids.empty()) return o.eos_token_ids;
  return resolve_stop_tokens("", model->config(), tokenizer);
}

// Fills out[i] = jobs[i]() on up to max_threads threads (the verifier is thread-safe and bounded
// per call, so a slow comparison delays one thread only).
void judge_parallel(std::vector<EvalSample>& out,
                    const std::vector<std::function<EvalSample()>>& jobs, int max_threads) {
  out.resize(jobs.size());
  const int threads = std::max(1, std::min<int>(max_threads, static_cast<int>(jobs.size())));
  if (threads == 1) {
    for (size_t i = 0; i < jobs.size(); ++i) out[i] = jobs[i]();
    return;
  }
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (size_t i = next++; i < jobs.size(); i = next++) out[i] = jobs[i]();
    });
  }
  for (auto& th : pool) th.join();
}

}  // namespace

EvalResult evaluate(CausalLM& model, const Tokenizer& tokenizer,
                    const std::vector<MathProblem>& problems, const EvalOptions& options,
                    const std::string& out_jsonl) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<EvalSample> samples = evaluate_samples(model, tokenizer, problems, options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EvalResult r = summarize_evaluation(options, static_cast<int>(problems.size()), samples, seconds);
  if (!out_jsonl.empty()) write_file_atomic(out_jsonl, samples_to_jsonl(samples));
  return r;
}

EvalResult summarize_evaluation(const EvalOptions& options, int num_problems, const std::vector<EvalSample>& samples,
                                double seconds) {
  const EvalOptions o = resolve_eval_options(options);
  EvalResult r = summarize_samples(o.name, num_problems, o.samples, samples);
  r.temperature = o.temperature;
  r.top_p = o.top_p;
  r.seconds = seconds;
  return r;
}

std::vector<EvalSample> evaluate_samples(CausalLM& model, const Tokenizer& tokenizer,
                                         const std::vector<MathProblem>& problems, const EvalOptions& options) {
  POPO_CHECK(!problems.empty(), "eval '", options.name, "': no problems to evaluate");
  EvalOptions o = resolve_eval_options(options);
  o.last_number = o.last_number || benchmark_uses_last_number(o.name);
  const int K = o.samples;
  const int num_problems = static_cast<int>(problems.size());
  const int64_t context = model->config().max_position_embeddings;

  // Prompts: chat template, then token ids.
  std::vector<std::string> prompt_text(num_problems);
  std::vector<std::vector<int32_t>> prompt_ids(num_problems);
  for (int i = 0; i < num_problems; ++i) {
    prompt_text[i] = problem_prompt(o.template_name, problems[i]);
    prompt_ids[i] = tokenizer.encode(prompt_text[i]);
    POPO_CHECK(!prompt_ids[i].empty(), "eval '", o.name, "': problem '", problems[i].id,
               "' encodes to no tokens");
  }

  // Longest prompts first: padding stays small within a batch and memory peaks early.
  std::vector<int> order(num_problems);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return prompt_ids[a].size() > prompt_ids[b].size(); });

  SamplingConfig sc;
  sc.temperature = o.temperature;
  sc.top_p = o.top_p;
  sc.top_k = o.top_k;
  sc.group_size = K;
  sc.eos_token_ids = eos_ids_for(model, tokenizer, o);
  sc.stop_strings = o.stop_strings;
  for (const std::string& s : template_stop_strings(o.template_name)) sc.stop_strings.push_back(s);
  if (o.temperature == 0 && K > 1) {
    LOG_WARN("eval '", o.name, "': greedy decoding with K=", K, " gives K identical responses");
  }

  std::vector<EvalSample> samples;
  samples.reserve(static_cast<size_t>(num_problems) * K);
  std::set<std::string> warned;
  int64_t clipped = 0;
  const int max_threads = std::max(1u, std::min(8u, std::thread::hardware_concurrency()));
  const int prompts_per_call = std::max(1, o.batch_rollouts / K);
  std::unique_ptr<Progress> progress;
  if (o.show_progress) {
    progress =
        std::make_unique<Progress>(o.name, static_cast<int64_t>(num_problems) * K, stderr_is_tty());
    progress->update(0);
  }

  const bool was_training = model->is_training();
  model->eval();
  torch::NoGradGuard no_grad;
  int64_t correct_so_far = 0;
  for (int b0 = 0, batch = 0; b0 < num_problems; b0 += prompts_per_call, ++batch) {
    const int b1 = std::min(num_problems, b0 + prompts_per_call);
    std::vector<std::function<EvalSample()>> jobs;
    // Prompts that leave no room for one new token are answered with nothing.
    std::vector<int> fit;
    for (int j = b0; j < b1; ++j) {
      const int p = order[j];
      if (static_cast<int64_t>(prompt_ids[p].size()) < context) {
        fit.push_back(p);
        continue;
      }
      if (warned.insert("too_long:" + problems[p].id).second) {
        LOG_WARN("eval '", o.name, "': prompt of problem '", problems[p].id, "' has ",
                 prompt_ids[p].size(), " tokens, the model's context is ", context,
                 "; scored as no answer");
      }
      for (int s = 0; s < K; ++s) {
        jobs.push_back([&, p, s] {
          return judge_response(problems[p], p, s, prompt_text[p], "", 0, "prompt_too_long", o);
        });
      }
    }
    RolloutBatch rb;
    if (!fit.empty()) {
      std::vector<std::vector<int32_t>> batch_prompts;
      int64_t longest = 0;
      for (int p : fit) {
        batch_prompts.push_back(prompt_ids[p]);
        longest = std::max<int64_t>(longest, prompt_ids[p].size());
      }
      const int64_t room = context - longest;
      sc.max_new_tokens = o.max_new_tokens > 0 ? std::min(o.max_new_tokens, room) : room;
      clipped += o.max_new_tokens > room;
      uint64_t state = o.seed + static_cast<uint64_t>(batch);
      sc.seed = splitmix64(state);
      rb = generate(model, batch_prompts, sc, &tokenizer);
      for (const auto& w : rb.warnings) {
        if (warned.insert(w).second) LOG_WARN("eval '", o.name, "': ", w);
      }
      POPO_CHECK(rb.size() == static_cast<int64_t>(fit.size()) * K, "eval '", o.name,
                 "': the sampler returned ", rb.size(), " rollouts, expected ", fit.size() * K);
      for (size_t i = 0; i < fit.size(); ++i) {
        const int p = fit[i];
        for (int s = 0; s < K; ++s) {
          const int64_t row = static_cast<int64_t>(i) * K + s;  // rows [i*K, (i+1)*K)
          jobs.push_back([&, p, s, row] {
            const std::vector<int32_t> ids = rb.response_tokens(row);
            const std::string text = tokenizer.decode(ids, /*skip_special_tokens=*/true);
            return judge_response(problems[p], p, s, prompt_text[p], text,
                                  static_cast<int64_t>(ids.size()),
                                  finish_reason_name(rb.finish[row]), o);
          });
        }
      }
    }
    std::vector<EvalSample> judged;
    judge_parallel(judged, jobs, max_threads);
    for (auto& s : judged) {
      correct_so_far += s.correct;
      samples.push_back(std::move(s));
    }
    if (progress) {
      const double acc = static_cast<double>(correct_so_far) / samples.size();
      char buf[48];
      std::snprintf(buf, sizeof buf, "acc %.3f", acc);
      progress->update(static_cast<int64_t>(samples.size()), buf);
    }
  }
  model->train(was_training);
  if (progress) progress->finish();
  if (clipped > 0) {
    LOG_WARN("eval '", o.name, "': max new tokens ", o.max_new_tokens, " clipped to the room left ",
             "in the model's context (", context, ") in ", clipped, " batch(es)");
  }

  return samples;
}

}  // namespace popo
