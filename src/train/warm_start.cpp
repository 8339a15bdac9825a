// Built-in base model: BPE tokenizer on the task corpus + tiny Qwen2 + supervised warm start.
// Legend: B sequences per step, T padded length, V vocabulary.
#include "train/warm_start.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/config.h"
#include "core/error.h"
#include "core/io.h"
#include "core/log.h"
#include "core/rng.h"
#include "model/config.h"
#include "model/dtype.h"
#include "model/load.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/tokenizer.h"

namespace popo {

namespace fs = std::filesystem;

namespace {

// Bumped whenever the recipe below changes, so stale caches are not reused.
constexpr const char* kRecipeVersion = "builtin-v1";

// Returns 16 lowercase hex digits of h.
std::string hex64(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// Returns the Qwen2 config of the tiny model for a tokenizer of vocab ids.
ModelConfig tiny_config(const TinyModelSpec& s, int64_t vocab, int64_t eos_id) {
  ModelConfig c;
  c.model_type = "qwen2";
  c.vocab_size = vocab;
  c.hidden_size = s.hidden_size;
  c.intermediate_size = s.intermediate_size;
  c.num_hidden_layers = s.num_hidden_layers;
  c.num_attention_heads = s.num_attention_heads;
  c.num_key_value_heads = s.num_key_value_heads;
  c.head_dim = s.hidden_size / s.num_attention_heads;
  c.max_position_embeddings = s.max_position_embeddings;
  c.rms_norm_eps = 1e-6;
  c.rope_theta = 10000.0;
  c.tie_word_embeddings = true;
  c.attention_bias = true;
  c.eos_token_ids = {eos_id};
  c.bos_token_id = -1;
  c.pad_token_id = eos_id;
  return c;
}

// Runs warm_start.steps of AdamW on the examples (prompt tokens masked out of the loss).
void supervised_warm_start(CausalLM& model, const Tokenizer& tok,
                           const std::vector<SftExample>& examples, const WarmStartSection& ws,
                           int32_t eos_id, bool log_progress) {
  POPO_CHECK(!examples.empty(), "warm start: no training examples");
  // Tokenise once: ids = prompt ++ target ++ EOS, loss on target ++ EOS.
  std::vector<std::vector<int64_t>> ids(examples.size());
  std::vector<int64_t> prompt_len(examples.size());
  for (size_t i = 0; i < examples.size(); ++i) {
    auto p = tok.encode(examples[i].prompt);
    auto t = tok.encode(examples[i].target);
    ids[i].assign(p.begin(), p.end());
    ids[i].insert(ids[i].end(), t.begin(), t.end());
    ids[i].push_back(eos_id);
    prompt_len[i] = static_cast<int64_t>(p.size());
  }
  torch::optim::AdamW opt(model->parameters(),
                          torch::optim::AdamWOptions(ws.lr).weight_decay(0.0).betas({0.9, 0.99}));
  Rng rng(derive_seed(static_cast<uint64_t>(ws.seed), "warm_start_order", 0));
  std::vector<int64_t> order(examples.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  size_t pos = order.size();  // forces a shuffle at the first step
  const int64_t warmup = std::max<int64_t>(1, ws.steps / 10);
  const auto device = model->device();
  model->train();
  double ema = 0;
  for (int64_t step = 0; step < ws.steps; ++step) {
    // 1. Next batch of B examples, reshuffling at each epoch.
    std::vector<int64_t> rows;
    while (static_cast<int64_t>(rows.size()) < ws.batch_size) {
      if (pos == order.size()) {
        for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.uniform_below(i)]);
        pos = 0;
      }
      rows.push_back(order[pos++]);
    }
    int64_t T = 0;
    for (int64_t r : rows) T = std::max<int64_t>(T, static_cast<int64_t>(ids[r].size()));
    const int64_t B = static_cast<int64_t>(rows.size());
    auto input = torch::full({B, T}, eos_id, torch::kLong);   // (B, T) right-padded
    auto attn = torch::zeros({B, T}, torch::kLong);           // (B, T) 1 = real token
    auto loss_mask = torch::zeros({B, T}, torch::kFloat);     // (B, T) 1 = predicted position
    for (int64_t b = 0; b < B; ++b) {
      const auto& s = ids[rows[b]];
      const int64_t n = static_cast<int64_t>(s.size());
      input[b].narrow(0, 0, n).copy_(torch::tensor(s, torch::kLong));
      attn[b].narrow(0, 0, n).fill_(1);
      // Position t predicts token t+1: targets start at the first response token.
      loss_mask[b].narrow(0, prompt_len[rows[b]] - 1, n - prompt_len[rows[b]]).fill_(1);
    }
    input = input.to(device);
    attn = attn.to(device);
    loss_mask = loss_mask.to(device);
    // 2. Next-token cross entropy over the response tokens.
    auto logits = model->forward(input, attn).to(torch::kFloat);           // (B, T, V)
    auto logp = logits.narrow(1, 0, T - 1).log_softmax(/*dim=*/-1);        // (B, T-1, V)
    auto target = input.narrow(1, 1, T - 1).unsqueeze(-1);                 // (B, T-1, 1)
    auto nll = -logp.gather(/*dim=*/-1, target).squeeze(-1);               // (B, T-1)
    auto m = loss_mask.narrow(1, 0, T - 1);                                 // (B, T-1)
    auto loss = (nll * m).sum() / m.sum().clamp_min(1.0);                  // ()
    // 3. Linear warmup then cosine to 10% of the peak.
    double lr = ws.lr;
    if (step < warmup) {
      lr = ws.lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
    } else {
      const double progress = static_cast<double>(step - warmup) /
                              static_cast<double>(std::max<int64_t>(1, ws.steps - warmup));
      lr = ws.lr * (0.1 + 0.9 * 0.5 * (1.0 + std::cos(M_PI * progress)));
    }
    for (auto& group : opt.param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    }
    opt.zero_grad();
    loss.backward();
    torch::nn::utils::clip_grad_norm_(model->parameters(), /*max_norm=*/1.0);
    opt.step();
    const double l = loss.item<double>();
    ema = step == 0 ? l : 0.95 * ema + 0.05 * l;
    const int64_t every = std::max<int64_t>(1, ws.steps / 10);
    if (log_progress && ((step + 1) % every == 0 || step + 1 == ws.steps)) {
      LOG_INFO("warm start step ", step + 1, "/", ws.steps, "  loss ", ema);
    }
  }
  model->eval();
}

}  // namespace

const std::vector<std::string>& builtin_special_tokens() {
  static const std::vector<std::string> specials = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  return specials;
}

std::string builtin_model_key(const RunConfig& cfg, const std::vector<SftExample>& examples,
                              const std::vector<std::string>& corpus) {
  uint64_t h = fnv1a64(kRecipeVersion);
  auto feed = [&h](const std::string& s) { h = mix64(h ^ fnv1a64(s)); };
  // The cache key: a cached model is the one these values would build.
  note_config_section_read("model.tiny", cfg.model.tiny);
  note_config_section_read("warm_start", cfg.warm_start);
  for (const auto& [k, v] : flatten(cfg.model.tiny)) feed(k + "=" + v);
  for (const auto& [k, v] : flatten(cfg.warm_start)) feed(k + "=" + v);
  feed("device=" + cfg.model.device);
  for (const auto& e : examples) {
    feed(e.prompt);
    feed(e.target);
  }
  for (const auto& line : corpus) feed(line);
  return hex64(h);
}

std::string prepare_builtin_model(const RunConfig& cfg, const std::vector<SftExample>& examples,
                                  const std::vector<std::string>& corpus,
                                  const std::string& cache_dir, bool log_progress) {
  const std::string key = builtin_model_key(cfg, examples, corpus);
  const fs::path dir = fs::path(cache_dir) / ("builtin-" + key);
  if (fs::exists(dir / "model.safetensors") && fs::exists(dir / "tokenizer.json") &&
      fs::exists(dir / "config.json")) {
    if (log_progress) LOG_INFO("built-in base model from cache: ", dir.string());
    return dir.string();
  }
  if (log_progress) {
    LOG_INFO("building the built-in base model (tokenizer, tiny Qwen2, ", cfg.warm_start.steps,
             " warm-start steps) into ", dir.string());
  }
  // 1. Byte-level BPE tokenizer on the task corpus.
  POPO_CHECK(!corpus.empty(), "built-in model: empty tokenizer corpus");
  const std::string tok_json = train_bpe_tokenizer_json(
      corpus, static_cast<int32_t>(cfg.model.tiny.vocab_size), builtin_special_tokens());
  const Tokenizer tok = Tokenizer::from_json(tok_json, "built-in tokenizer");
  const int32_t eos_id = tok.token_to_id(builtin_special_tokens()[0]);
  POPO_CHECK(eos_id >= 0, "built-in tokenizer lacks ", builtin_special_tokens()[0]);

  // 2. Tiny model, random init, on the run's device in fp32.
  const ModelConfig mc = tiny_config(cfg.model.tiny, tok.vocab_size(), eos_id);
  CausalLM model = make_random_model(mc, static_cast<uint64_t>(cfg.warm_start.seed));
  const c10::Device device = parse_device(cfg.model.device);
  model->to(device);

  // 3. Supervised warm start.
  if (cfg.warm_start.steps > 0) {
    supervised_warm_start(model, tok, examples, cfg.warm_start, eos_id, log_progress);
  }

  // 4. Write the folder atomically.
  fs::create_directories(cache_dir);
  const fs::path tmp = fs::path(cache_dir) / (".tmp-builtin-" + key + "-" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  model->to(torch::kCPU);
  save_model(model, tmp.string());
  write_file_atomic((tmp / "tokenizer.json").string(), tok_json);
  std::error_code ec;
  fs::rename(tmp, dir, ec);
  if (ec) {  // another process finished first: keep its folder
    fs::remove_all(tmp);
    POPO_CHECK(fs::exists(dir / "model.safetensors"), dir.string(), ": cannot create (",
               ec.message(), ")");
  }
  return dir.string();
}

}  // namespace popo
