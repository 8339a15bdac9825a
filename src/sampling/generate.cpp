#include "sampling/generate.h"

#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>
#include <algorithm>
#include <chrono>
#include <mutex>
#include <numeric>

#include "core/error.h"
#include "sampling/logits_process.h"

#include "tokenizer/tokenizer.h"

namespace popo {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kStopString: return "stop_string";
    case FinishReason::kLength: return "length";
  }
  return "?";
}

std::vector<int32_t> RolloutBatch::response_tokens(int64_t row) const {
  std::vector<int32_t> out;
  auto ids = response_ids[row].to(torch::kCPU);
  auto m = response_mask[row].to(torch::kCPU);
  for (int64_t t = 0; t < ids.size(0); ++t) {
    if (m[t].item<float>() > 0.5f) out.push_back(static_cast<int32_t>(ids[t].item<int64_t>()));
  }
  return out;
}

void validate_sampling_config(const SamplingConfig& cfg) {
  POPO_CHECK(cfg.temperature >= 0.0, "sampling: temperature must be >= 0 (0 = greedy), got ", cfg.temperature);
  POPO_CHECK(cfg.top_p > 0.0 && cfg.top_p <= 1.0, "sampling: top_p must be in (0, 1], got ", cfg.top_p);
  POPO_CHECK(cfg.top_k >= 0, "sampling: top_k must be >= 0 (0 = off), got ", cfg.top_k);
  POPO_CHECK(cfg.group_size >= 1, "sampling: group_size must be >= 1, got ", cfg.group_size);
  POPO_CHECK(cfg.max_new_tokens >= 1, "sampling: max_new_tokens must be >= 1, got ", cfg.max_new_tokens);
  for (const auto& s : cfg.stop_strings) POPO_CHECK(!s.empty(), "sampling: stop_strings contains an empty string");
}

namespace {

// Per-rollout decode state, indexed by rollout row (0..N-1).
struct RowState {
  std::vector<int64_t> tokens;
  std::vector<float> logp;
  bool done = false;
  FinishReason finish = FinishReason::kLength;
};

// Returns true if the newest token completes a stop string. Only the tail of the row is decoded:
// the last tokens whose text holds at least the longest stop string plus 4 bytes (a match may
// start in earlier tokens; the slack covers a UTF-8 character cut at the window's start), so the
// check costs O(stop length) a step instead of decoding the whole response again (which made the
// demo's rollouts 23% slower with one stop string). A match that ended at an earlier token
// finished the row then, so any match in the window is new.
bool hits_stop_string(const std::vector<int64_t>& tokens, const std::vector<std::string>& stops,
                      size_t longest, const DecodeFn& decode) {
  const size_t need = longest + 4;
  size_t w = std::min(tokens.size(), need);
  std::string tail;
  while (true) {
    tail = decode(std::vector<int32_t>(tokens.end() - static_cast<std::ptrdiff_t>(w), tokens.end()));
    if (tail.size() >= need || w == tokens.size()) break;
    w = std::min(tokens.size(), 2 * w);  // tokens that decode to few bytes: widen the window
  }
  for (const auto& s : stops)
    if (tail.find(s) != std::string::npos) return true;
  return false;
}

}  // namespace

RolloutBatch generate(CausalLM& model, const std::vector<std::vector<int32_t>>& prompts,
                      const SamplingConfig& cfg, const DecodeFn& decode) {
  validate_sampling_config(cfg);
  POPO_CHECK(!prompts.empty(), "generate: no prompts given");
  for (size_t i = 0; i < prompts.size(); ++i) POPO_CHECK(!prompts[i].empty(), "generate: prompt ", i, " is empty");
  POPO_CHECK(cfg.stop_strings.empty() || decode, "generate: stop_strings need a tokenizer, none was given");
  size_t longest_stop = 0;
  for (const auto& st : cfg.stop_strings) longest_stop = std::max(longest_stop, st.size());
  const ModelConfig& mc = model->config();
  const int64_t n_prompts = static_cast<int64_t>(prompts.size()), G = cfg.group_size, N = n_prompts * G;
  int64_t P = 0;
  for (const auto& p : prompts) P = std::max<int64_t>(P, static_cast<int64_t>(p.size()));
  const int64_t ctx = mc.max_position_embeddings;
  POPO_CHECK(P < ctx, "generate: a prompt of ", P, " tokens leaves no room in the model's context of ", ctx,
             " positions (max_position_embeddings)");
  RolloutBatch out;
  out.num_prompts = n_prompts;
  out.group_size = G;
  int64_t max_new = cfg.max_new_tokens;
  if (P + max_new > ctx) {
    max_new = ctx - P;
    out.warnings.push_back("max_new_tokens " + std::to_string(cfg.max_new_tokens) + " clipped to " +
                           std::to_string(max_new) + ": the longest prompt has " + std::to_string(P) +
                           " tokens and the context is " + std::to_string(ctx));
  }
  for (const auto& p : prompts) {
    for (int32_t id : p) {
      POPO_CHECK(id >= 0 && id < mc.vocab_size, "generate: token id ", id, " outside the vocabulary of ",
                 mc.vocab_size);
    }
  }

  torch::NoGradGuard no_grad;
  const auto dev = model->device();
  // Left-padded prompts, one row per prompt (not per rollout: each prompt is prefilled once).
  auto ids = torch::zeros({n_prompts, P}, torch::kLong);   // (n, P)
  auto mask = torch::zeros({n_prompts, P}, torch::kLong);  // (n, P)
  {
    auto ia = ids.accessor<int64_t, 2>();
    auto ma = mask.accessor<int64_t, 2>();
    for (int64_t i = 0; i < n_prompts; ++i) {
      const int64_t L = static_cast<int64_t>(prompts[i].size());
      for (int64_t t = 0; t < L; ++t) {
        ia[i][P - L + t] = prompts[i][t];
        ma[i][P - L + t] = 1;
      }
    }
  }
  out.prompt_ids = ids.repeat_interleave(G, /*dim=*/0);    // (N, P)
  out.prompt_mask = mask.repeat_interleave(G, /*dim=*/0);  // (N, P)
  for (int64_t i = 0; i < n_prompts; ++i) {
    for (int64_t g = 0; g < G; ++g) out.group.push_back(i);
  }

  using Clock = std::chrono::steady_clock;
  const auto t_start = Clock::now();
  // Prefill once per prompt; only the last position's logits are needed.
  KVCache cache = model->make_cache(n_prompts, P + max_new);
  auto hidden = model->forward_hidden(ids.to(dev), mask.to(dev), &cache);  // (n, P, C)
  auto logits = model->lm_head(hidden.select(1, P - 1));                     // (n, V)
  // Share the prefill across the G continuations: row i -> rows i*G .. i*G+G-1.
  cache.repeat_interleave_rows(G);
  logits = logits.repeat_interleave(G, /*dim=*/0);                  // (N, V)
  auto attn_mask = mask.to(dev).repeat_interleave(G, /*dim=*/0);    // (N, P)

  auto gen = at::make_generator<at::CPUGeneratorImpl>(cfg.seed);
  POPO_CHECK(cfg.row_seeds.empty() || static_cast<int64_t>(cfg.row_seeds.size()) == N,
             "generate: row_seeds has ", cfg.row_seeds.size(), " seeds, expected one per rollout (", N, ")");
  std::vector<at::Generator> row_gens;  // per rollout row, when row_seeds is given
  for (uint64_t s : cfg.row_seeds) row_gens.push_back(at::make_generator<at::CPUGeneratorImpl>(s));
  // Device draw: a private generator of the model's device (a clone of its default one,
  // re-seeded), so a request's draws depend on its seed only; the probabilities never leave the
  // device. The CPU keeps the host path above unless asked (on the CPU the re-seeded clone is
  // the same mt19937 stream, so both paths draw the same tokens there).
  const bool device_draw = dev.type() != c10::DeviceType::CPU || cfg.device_draw;
  at::Generator dev_gen;
  if (device_draw) {
    at::Generator def = at::globalContext().defaultGenerator(dev);
    std::lock_guard<std::mutex> lock(def.mutex());
    dev_gen = def.clone();
    dev_gen.set_current_seed(cfg.seed);
  }
  const auto t_prefilled = Clock::now();
  std::vector<RowState> rows(N);
  std::vector<int64_t> active(N);  // batch row -> rollout row
  std::iota(active.begin(), active.end(), 0);
  const double T = cfg.temperature;
  for (int64_t step = 0; step < max_new; ++step) {
    auto lf = logits.to(torch::kFloat);  // (n_act, V)
    torch::Tensor tok, logp_all;         // (n_act), (n_act, V)
    if (T == 0.0) {
      tok = lf.argmax(/*dim=*/-1);
      logp_all = log_softmax_f32(lf);
    } else {
      auto scaled = apply_temperature(lf, T);                              // (n_act, V)
      logp_all = log_softmax_f32(scaled);                                  // behaviour log-probs
      auto filtered = apply_top_p(apply_top_k(scaled, cfg.top_k), cfg.top_p);
      auto probs = torch::softmax(filtered, /*dim=*/-1);                   // (n_act, V)
      if (!row_gens.empty()) {
        // One stream per rollout (draws independent of batch and rank layout); drawn on the host.
        // TODO(#7): per-rollout generators on the device, so CUDA runs keep probs on the GPU.
        auto probs_cpu = probs.to(torch::kCPU);                            // (n_act, V)
        std::vector<int64_t> picked(active.size());
        for (size_t j = 0; j < active.size(); ++j) {
          picked[j] = torch::multinomial(probs_cpu[static_cast<int64_t>(j)], /*num_samples=*/1,
                                         /*replacement=*/false, row_gens[active[j]]).item<int64_t>();
        }
        tok = torch::tensor(picked, torch::kLong).to(dev);  // (n_act)
      } else if (device_draw) {
        tok = torch::multinomial(probs, /*num_samples=*/1, /*replacement=*/false, dev_gen).squeeze(1);
      } else {
        tok = torch::multinomial(probs.to(torch::kCPU), /*num_samples=*/1, /*replacement=*/false, gen)
                  .squeeze(1)
                  .to(dev);  // (n_act)
      }
    }
    auto lp = logp_all.gather(1, tok.view({-1, 1})).squeeze(1);  // (n_act)
    auto tok_cpu = tok.to(torch::kCPU);
    auto lp_cpu = lp.to(torch::kCPU);
    const int64_t* tp = tok_cpu.data_ptr<int64_t>();
    const float* lpp = lp_cpu.data_ptr<float>();
    std::vector<int64_t> keep;  // batch rows still decoding
    for (size_t j = 0; j < active.size(); ++j) {
      RowState& r = rows[active[j]];
      if (r.done) continue;  // only without compaction
      r.tokens.push_back(tp[j]);
      r.logp.push_back(lpp[j]);
      if (std::find(cfg.eos_token_ids.begin(), cfg.eos_token_ids.end(), tp[j]) != cfg.eos_token_ids.end()) {
        r.done = true;
        r.finish = FinishReason::kStop;
      } else if (!cfg.stop_strings.empty()) {
        if (hits_stop_string(r.tokens, cfg.stop_strings, longest_stop, decode)) {
          r.done = true;
          r.finish = FinishReason::kStopString;
        }
      }
      if (!r.done) keep.push_back(static_cast<int64_t>(j));
    }
    if (keep.empty() || step + 1 == max_new) break;
    // Finished rows stop costing compute: the batch and the cache are compacted (an index_select
    // per layer whenever a row finishes) rather than decoding finished rows to the end. Measured in
    // bench/bench_generate (0.5B shape, 32 rows, 10 finishing early, 2-core VM, 2026-11-27):
    // 3245 vs 3314 ms/step, a small win within this shared machine's noise; kept because its
    // cost is one copy per finish event while a skipped row costs a full row of every GEMM.
    if (cfg.compact_finished && static_cast<size_t>(keep.size()) < active.size()) {
      auto idx = torch::tensor(keep, torch::kLong);
      std::vector<int64_t> next_active;
      for (int64_t j : keep) next_active.push_back(active[j]);
      active.swap(next_active);
      auto idx_dev = idx.to(dev);
      cache.select_rows(idx_dev);
      attn_mask = attn_mask.index_select(0, idx_dev);
      tok = tok.index_select(0, idx_dev);
    }
    const int64_t n_act = static_cast<int64_t>(active.size());
    attn_mask = torch::cat({attn_mask, torch::ones({n_act, 1}, attn_mask.options())}, /*dim=*/1);  // (n_act, S+1)
    auto h = model->forward_hidden(tok.view({n_act, 1}), attn_mask, &cache);  // (n_act, 1, C)
    logits = model->lm_head(h.squeeze(1));                                    // (n_act, V)
    ++out.decode_steps;
  }
  const auto t_end = Clock::now();
  out.prefill_seconds = std::chrono::duration<double>(t_prefilled - t_start).count();
  out.decode_seconds = std::chrono::duration<double>(t_end - t_prefilled).count();

  int64_t R = 0;
  for (const auto& r : rows) R = std::max<int64_t>(R, static_cast<int64_t>(r.tokens.size()));
  out.response_ids = torch::zeros({N, R}, torch::kLong);
  out.response_mask = torch::zeros({N, R}, torch::kFloat);
  out.logp = torch::zeros({N, R}, torch::kFloat);
  auto ra = out.response_ids.accessor<int64_t, 2>();
  auto rm = out.response_mask.accessor<float, 2>();
  auto rl = out.logp.accessor<float, 2>();
  for (int64_t n = 0; n < N; ++n) {
    for (size_t t = 0; t < rows[n].tokens.size(); ++t) {
      ra[n][t] = rows[n].tokens[t];
      rm[n][t] = 1.0f;
      rl[n][t] = rows[n].logp[t];
    }
    out.finish.push_back(rows[n].finish);
  }
  return out;
}

RolloutBatch generate(CausalLM& model, const std::vector<std::vector<int32_t>>& prompts,
                      const SamplingConfig& cfg, const Tokenizer* tokenizer) {
  DecodeFn decode;
  if (tokenizer != nullptr && !cfg.stop_strings.empty()) {
    decode = [tokenizer](const std::vector<int32_t>& ids) { return tokenizer->decode(ids); };
  }
  return generate(model, prompts, cfg, decode);
}

std::vector<std::string> decode_responses(const RolloutBatch& batch, const Tokenizer& tok,
                                          std::vector<int64_t>* lengths) {
  auto ids = batch.response_ids.to(torch::kCPU).to(torch::kLong).contiguous();     // (N, R)
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

}  // namespace popo
