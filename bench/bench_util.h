// Shared bits of bench_update and bench_rollout: the model shapes the GPU benchmarks use (random
// weights, Hugging Face init), a tiny argument parser, device sync and a bf16/fp32 matmul rate.
// Shapes are copied from the published config.json files of the Qwen2.5 models.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <string>

#include "core/error.h"
#include "model/causal_lm.h"
#include "model/config.h"
#include "sampling/rollout_batch.h"

namespace popo::bench {

using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Returns the decoder shape for a name: tiny (CPU smoke), mid (CPU benchmarks), qwen2.5-0.5b, qwen2.5-math-1.5b,
// qwen2.5-math-7b.
inline ModelConfig shape_config(const std::string& name) {
  ModelConfig c;
  c.model_type = "qwen2";
  c.attention_bias = true;
  c.rms_norm_eps = 1e-6;
  if (name == "tiny") {
    c.vocab_size = 512, c.hidden_size = 64, c.intermediate_size = 176, c.num_hidden_layers = 2;
    c.num_attention_heads = 4, c.num_key_value_heads = 2, c.max_position_embeddings = 4096;
    c.rope_theta = 10000.0, c.tie_word_embeddings = true;
  } else if (name == "mid") {  // a CPU-sized mid shape (~30M parameters): Qwen2 layout, GQA 4
    c.vocab_size = 8192, c.hidden_size = 512, c.intermediate_size = 1408, c.num_hidden_layers = 8;
    c.num_attention_heads = 8, c.num_key_value_heads = 2, c.max_position_embeddings = 4096;
    c.rope_theta = 10000.0, c.tie_word_embeddings = true;
  } else if (name == "qwen2.5-0.5b") {
    c.vocab_size = 151936, c.hidden_size = 896, c.intermediate_size = 4864, c.num_hidden_layers = 24;
    c.num_attention_heads = 14, c.num_key_value_heads = 2, c.max_position_embeddings = 32768;
    c.rope_theta = 1000000.0, c.tie_word_embeddings = true;
  } else if (name == "qwen2.5-math-1.5b") {
    c.vocab_size = 151936, c.hidden_size = 1536, c.intermediate_size = 8960, c.num_hidden_layers = 28;
    c.num_attention_heads = 12, c.num_key_value_heads = 2, c.max_position_embeddings = 4096;
    c.rope_theta = 10000.0, c.tie_word_embeddings = true;
  } else if (name == "qwen2.5-math-7b") {
    c.vocab_size = 152064, c.hidden_size = 3584, c.intermediate_size = 18944, c.num_hidden_layers = 28;
    c.num_attention_heads = 28, c.num_key_value_heads = 4, c.max_position_embeddings = 4096;
    c.rope_theta = 10000.0, c.tie_word_embeddings = false;
  } else {
    POPO_FAIL("bench: unknown --shape '", name, "'; expected tiny | mid | qwen2.5-0.5b | qwen2.5-math-1.5b | qwen2.5-math-7b");
  }
  c.head_dim = c.hidden_size / c.num_attention_heads;
  return c;
}

// "--key value" pairs and bare "--flag"s; get() falls back to the default.
struct Args {
  std::map<std::string, std::string> kv;
  Args(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      POPO_CHECK(a.rfind("--", 0) == 0, "bench: expected --option, got '", a, "'");
      a = a.substr(2);
      if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
        kv[a] = argv[++i];
      } else {
        kv[a] = "1";
      }
    }
  }
  std::string get(const std::string& k, const std::string& def) const {
    auto it = kv.find(k);
    return it == kv.end() ? def : it->second;
  }
  int64_t get_int(const std::string& k, int64_t def) const { return std::stoll(get(k, std::to_string(def))); }
  bool has(const std::string& k) const { return kv.count(k) > 0; }
};

// Waits for queued GPU work (timings of asynchronous CUDA kernels need it).
inline void sync(const c10::Device& dev) {
  if (dev.is_cuda()) torch::cuda::synchronize();
}

// Returns the measured matmul rate in FLOP/s of an n x n x n product in dtype on dev (median
// of the timed repetitions is not needed: the mean of 10 after 3 warm-ups, as KINDS.md's figure).
inline double matmul_rate(const c10::Device& dev, c10::ScalarType dtype, int64_t n) {
  auto opt = torch::TensorOptions().dtype(dtype).device(dev);
  auto a = torch::randn({n, n}, opt), b = torch::randn({n, n}, opt);
  torch::Tensor c;
  for (int i = 0; i < 3; ++i) c = torch::matmul(a, b);
  sync(dev);
  const int reps = 10;
  auto t = Clock::now();
  for (int i = 0; i < reps; ++i) c = torch::matmul(a, b);
  sync(dev);
  return 2.0 * n * n * n * reps / seconds_since(t);
}

}  // namespace popo::bench

namespace popo::bench {

// Returns N = prompts * group random rollouts for an update benchmark: prompts of P random
// tokens shared by each group, full-length responses of R random tokens (finish = length),
// behaviour log-probs in (-1, 0], drawn after torch::manual_seed(seed).
inline RolloutBatch random_rollouts(int64_t prompts, int64_t group, int64_t P, int64_t R, int64_t vocab,
                                    uint64_t seed = 7) {
  torch::manual_seed(seed);
  const int64_t N = prompts * group;
  RolloutBatch b;
  b.num_prompts = prompts;
  b.group_size = group;
  b.prompt_ids = torch::randint(1, vocab, {prompts, P}, torch::kLong).repeat_interleave(group, 0);  // (N, P)
  b.prompt_mask = torch::ones({N, P}, torch::kLong);
  b.response_ids = torch::randint(1, vocab, {N, R}, torch::kLong);  // (N, R)
  b.response_mask = torch::ones({N, R}, torch::kFloat);
  b.logp = -torch::rand({N, R});
  for (int64_t i = 0; i < N; ++i) b.group.push_back(i / group);
  b.finish.assign(N, FinishReason::kLength);
  return b;
}

// Returns a model of shape cfg on dev in dtype with HF's init (matrices N(0, 0.02), biases 0,
// norm weights 1), drawn on the device itself (a CPU draw of 1.5B parameters takes seconds).
inline CausalLM random_model(const ModelConfig& cfg, const c10::Device& dev, c10::ScalarType dtype, uint64_t seed) {
  CausalLM m(cfg);
  m->to(dev, dtype);
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  for (auto& p : m->named_parameters()) {
    const std::string& name = p.key();
    if (name.size() >= 11 && name.compare(name.size() - 11, 11, "norm.weight") == 0) {
      p.value().fill_(1.0);
    } else if (name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0) {
      p.value().zero_();
    } else {
      p.value().normal_(/*mean=*/0.0, /*std=*/0.02);
    }
  }
  return m;
}

// Returns the device for --device (cpu | cuda | auto).
inline c10::Device bench_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  c10::Device d(name);
  POPO_CHECK(!d.is_cuda() || torch::cuda::is_available(), "bench: --device ", name, " but no CUDA device is available");
  return d;
}

}  // namespace popo::bench
