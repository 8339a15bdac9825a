// bench_generate: greedy generation throughput on CPU, side by side in one run:
//   popo    - the rollout sampler (src/sampling/generate.cpp): prefill once, KV cache decode
//   naive   - the same model re-running the full forward pass over all tokens for every new token
//   python  - bench/python/generate_baseline.py: plain PyTorch (Debian python3-torch) with a KV cache
//   HF      - bench/python/hf_generate_baseline.py: transformers' model and generate() with its KV
//             cache, under the oracle environment's Python (--hf-python PATH, or $POPO_ORACLE_PYTHON)
// plus the memory-bandwidth bound of a decode step (weights + KV cache bytes / measured copy
// bandwidth) and a GEMM rate, a compaction-vs-skip measurement for finished rows, and a thread
// table. Weights are random (HF init); popo and python load the same file and must agree on the
// greedy tokens. popo and python times are the best of 2 runs each (the machine is shared).
// Prints markdown tables. Usage: bench_generate [--quick] [--no-python] [--hf-python PATH]
#include <torch/torch.h>

#include <dlfcn.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/build_paths.h"
#include "model/load.h"
#include "sampling/generate.h"

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Sets OpenBLAS's own thread count (libtorch's set_num_threads does not reach it); false if absent.
bool set_blas_threads(int n) {
  using Fn = void (*)(int);
  auto fn = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (fn == nullptr) return false;
  fn(n);
  return true;
}

// Returns the copy bandwidth in bytes/s (read + write) of a 256 MiB float tensor.
double measure_bandwidth() {
  auto a = torch::rand({64 * 1024 * 1024});
  auto b = torch::empty_like(a);
  b.copy_(a);
  const int reps = 5;
  auto t = Clock::now();
  for (int i = 0; i < reps; ++i) b.copy_(a);
  return 2.0 * a.numel() * 4 * reps / seconds_since(t);
}

// Returns the fp32 GEMM rate in FLOP/s of a (1024 x 896) @ (896 x 4864) product.
double measure_gemm() {
  auto a = torch::randn({1024, 896}), w = torch::randn({896, 4864});
  auto c = torch::matmul(a, w);
  const int reps = 5;
  auto t = Clock::now();
  for (int i = 0; i < reps; ++i) c = torch::matmul(a, w);
  return 2.0 * 1024 * 896 * 4864 * reps / seconds_since(t);
}

popo::ModelConfig tiny_config() {
  popo::ModelConfig c;
  c.model_type = "qwen2";
  c.vocab_size = 512; c.hidden_size = 64; c.intermediate_size = 176; c.num_hidden_layers = 2;
  c.num_attention_heads = 4; c.num_key_value_heads = 2; c.head_dim = 16; c.max_position_embeddings = 4096;
  c.rms_norm_eps = 1e-6; c.rope_theta = 10000.0; c.tie_word_embeddings = false; c.attention_bias = true;
  return c;
}

popo::ModelConfig qwen25_05b_config() {
  popo::ModelConfig c;
  c.model_type = "qwen2";
  c.vocab_size = 151936; c.hidden_size = 896; c.intermediate_size = 4864; c.num_hidden_layers = 24;
  c.num_attention_heads = 14; c.num_key_value_heads = 2; c.head_dim = 64; c.max_position_embeddings = 32768;
  c.rms_norm_eps = 1e-6; c.rope_theta = 1000000.0; c.tie_word_embeddings = true; c.attention_bias = true;
  return c;
}

std::vector<std::vector<int32_t>> random_prompts(int64_t batch, int64_t len, int64_t vocab, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto ids = torch::randint(vocab, {batch, len}, gen, torch::kLong);
  std::vector<std::vector<int32_t>> out(batch);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t t = 0; t < len; ++t) out[b].push_back(static_cast<int32_t>(ids[b][t].item<int64_t>()));
  }
  return out;
}

// Returns the seconds of greedy decoding without a cache: one full forward per new token.
double naive_generate(popo::CausalLM& model, const std::vector<std::vector<int32_t>>& prompts, int64_t n_new,
                      torch::Tensor* tokens) {
  torch::NoGradGuard no_grad;
  const int64_t B = prompts.size(), P = prompts[0].size();
  auto ids = torch::empty({B, P}, torch::kLong);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < P; ++t) ids[b][t] = prompts[b][t];
  }
  auto t0 = Clock::now();
  for (int64_t i = 0; i < n_new; ++i) {
    auto h = model->forward_hidden(ids, torch::Tensor());       // (B, P+i, C)
    auto next = model->lm_head(h.select(1, -1)).argmax(-1);     // (B)
    ids = torch::cat({ids, next.view({B, 1})}, 1);
  }
  const double s = seconds_since(t0);
  *tokens = ids.narrow(1, P, n_new);
  return s;
}

struct PyResult {
  bool ok = false;
  double prefill_s = 0, decode_s = 0;
  torch::Tensor tokens;
};

// Runs bench/python/<script> under the Python `python` on the saved model and prompts.
PyResult run_python(const std::string& python, const std::string& script_name, const std::string& model_dir,
                    const std::vector<std::vector<int32_t>>& prompts, int64_t n_new, int threads, int repeats) {
  const std::string script = (popo::source_file(__FILE__).parent_path() / "python" / script_name).string();
  const std::string prompts_path = model_dir + "/prompts.json";
  std::ofstream(prompts_path) << nlohmann::json(prompts).dump();
  const std::string cmd = "OPENBLAS_NUM_THREADS=2 " + python + " " + script + " " + model_dir + " " +
                          prompts_path + " " + std::to_string(n_new) + " " + std::to_string(threads) + " " + std::to_string(repeats);
  PyResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  if (pclose(p) != 0 || out.empty()) return r;
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded()) return r;
  r.ok = true;
  r.prefill_s = j["prefill_s"];
  r.decode_s = j["decode_s"];
  auto toks = j["tokens"].get<std::vector<std::vector<int64_t>>>();
  r.tokens = torch::empty({static_cast<int64_t>(toks.size()), static_cast<int64_t>(toks[0].size())}, torch::kLong);
  for (size_t b = 0; b < toks.size(); ++b) {
    for (size_t t = 0; t < toks[b].size(); ++t) r.tokens[b][t] = toks[b][t];
  }
  return r;
}

// Returns the bytes a decode step must read: all weights once + the KV cache of all rows.
double decode_step_bytes(const popo::ModelConfig& c, int64_t batch, double kv_len) {
  const double kv = 2.0 * c.num_hidden_layers * batch * c.num_key_value_heads * kv_len * c.head_dim * 4;
  return c.num_parameters() * 4.0 + kv;
}

constexpr int kRepeats = 2;

struct Case {
  std::string name;
  popo::ModelConfig cfg;
  int64_t batch, prompt_len, n_new;
  bool naive;
};

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, python = true;
  std::string hf_python = std::getenv("POPO_ORACLE_PYTHON") ? std::getenv("POPO_ORACLE_PYTHON") : "";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") quick = true;
    if (a == "--no-python") python = false;
    if (a == "--hf-python" && i + 1 < argc) hf_python = argv[++i];
  }
  if (!python) hf_python.clear();
  const int intra = 1;  // the default chosen below (thread table)
  torch::set_num_threads(intra);
  set_blas_threads(2);
  const double bw = measure_bandwidth();
  const double gemm = measure_gemm();
  std::printf("machine: %u hardware threads; torch %s; intra-op threads %d, OpenBLAS threads 2; best of %d runs\n",
              std::thread::hardware_concurrency(), TORCH_VERSION, intra, kRepeats);
  std::printf("measured: copy bandwidth %.1f GB/s, fp32 GEMM %.1f GFLOP/s\n\n", bw / 1e9, gemm / 1e9);

  const std::string tmp = (std::filesystem::temp_directory_path() / ("popo_bench_gen_" + std::to_string(getpid()))).string();
  std::vector<Case> cases = {
      {"tiny (2L, C64, V512)", tiny_config(), 1, 16, 64, true},
      {"tiny (2L, C64, V512)", tiny_config(), 16, 16, 64, true},
      {"tiny (2L, C64, V512)", tiny_config(), 64, 16, 64, true},
      {"Qwen2.5-0.5B shape", qwen25_05b_config(), 1, 8, quick ? 4 : 8, true},
      {"Qwen2.5-0.5B shape", qwen25_05b_config(), 16, 8, quick ? 4 : 8, false},
      {"Qwen2.5-0.5B shape", qwen25_05b_config(), 64, 8, quick ? 2 : 6, false},
  };
  std::printf("| model | batch | prompt+new | popo tok/s | naive (no cache) tok/s | python KV-cache tok/s | popo / python "
              "| popo decode ms/step | python decode ms/step | HF generate tok/s | popo / HF | HF decode ms/step "
              "| bandwidth bound ms/step | popo %% of bound |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  std::string saved_for;
  popo::CausalLM model{nullptr};
  for (const auto& c : cases) {
    const std::string dir = tmp + "/" + std::to_string(c.cfg.num_parameters());
    if (saved_for != dir) {
      model = popo::make_random_model(c.cfg, /*seed=*/0);
      if (python || !hf_python.empty()) popo::save_model(model, dir);
      saved_for = dir;
    }
    auto prompts = random_prompts(c.batch, c.prompt_len, c.cfg.vocab_size, /*seed=*/1);
    popo::SamplingConfig sc;
    sc.temperature = 0.0;
    sc.max_new_tokens = c.n_new;
    popo::RolloutBatch rb;
    double popo_s = 1e30;
    for (int rep = 0; rep < kRepeats; ++rep) {
      auto t0 = Clock::now();
      popo::RolloutBatch r = popo::generate(model, prompts, sc, static_cast<const popo::Tokenizer*>(nullptr));
      const double s = seconds_since(t0);
      if (s < popo_s) {
        popo_s = s;
        rb = std::move(r);
      }
    }
    const double tokens = static_cast<double>(c.batch * c.n_new);
    std::string naive_col = "skipped (slow)";
    if (c.naive) {
      torch::Tensor nt;
      const double s = naive_generate(model, prompts, c.n_new, &nt);
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.1f%s", tokens / s, torch::equal(nt, rb.response_ids) ? "" : " (tokens differ!)");
      naive_col = buf;
    }
    // One baseline's three columns: tok/s (with a note when its tokens differ), popo's speed-up, decode ms/step.
    auto baseline = [&](const std::string& py, const std::string& script, std::string* col, std::string* ratio,
                        std::string* step) {
      PyResult pr = run_python(py, script, dir, prompts, c.n_new, intra, kRepeats);
      if (!pr.ok) {
        *col = "failed";
        return;
      }
      const double py_s = pr.prefill_s + pr.decode_s;
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.1f%s", tokens / py_s, torch::equal(pr.tokens, rb.response_ids) ? "" : " (tokens differ!)");
      *col = buf;
      std::snprintf(buf, sizeof buf, "%.2fx", py_s / popo_s);
      *ratio = buf;
      std::snprintf(buf, sizeof buf, "%.1f", 1e3 * pr.decode_s / std::max<int64_t>(1, c.n_new - 1));
      *step = buf;
    };
    std::string py_col = "n/a", ratio_col = "n/a", py_step = "n/a";
    std::string hf_col = "n/a", hf_ratio = "n/a", hf_step = "n/a";
    if (python) baseline("/usr/bin/python3", "generate_baseline.py", &py_col, &ratio_col, &py_step);
    if (!hf_python.empty()) baseline(hf_python, "hf_generate_baseline.py", &hf_col, &hf_ratio, &hf_step);
    const double step_ms = 1e3 * rb.decode_seconds / std::max<int64_t>(1, rb.decode_steps);
    const double bound_ms = 1e3 * decode_step_bytes(c.cfg, c.batch, c.prompt_len + c.n_new / 2.0) / bw;
    std::printf("| %s | %lld | %lld+%lld | %.1f | %s | %s | %s | %.1f | %s | %s | %s | %s | %.2f | %.0f%% |\n",
                c.name.c_str(), static_cast<long long>(c.batch), static_cast<long long>(c.prompt_len),
                static_cast<long long>(c.n_new), tokens / popo_s, naive_col.c_str(), py_col.c_str(), ratio_col.c_str(),
                step_ms, py_step.c_str(), hf_col.c_str(), hf_ratio.c_str(), hf_step.c_str(), bound_ms,
                100.0 * bound_ms / step_ms);
    std::fflush(stdout);
  }

  // Finished rows: compact the batch + cache vs keep computing them. Greedy with many EOS ids, so
  // rows stop at scattered steps and both modes finish the same rows at the same steps.
  {
    auto cfg = qwen25_05b_config();
    if (saved_for.find(std::to_string(cfg.num_parameters())) == std::string::npos) model = popo::make_random_model(cfg, 0);
    auto prompts = random_prompts(quick ? 8 : 32, 8, cfg.vocab_size, 2);
    std::printf("\n| finished rows (Qwen2.5-0.5B shape, %zu rows, 8+16, EOS = 4000 ids) | rows finished early | decode s | decode ms/step |\n|---|---|---|---|\n",
                prompts.size());
    for (bool compact : {true, false}) {
      popo::SamplingConfig sc;
      sc.temperature = 0.0;
      sc.max_new_tokens = 16;
      sc.compact_finished = compact;
      for (int64_t id = 0; id < 4000; ++id) sc.eos_token_ids.push_back(id);
      auto rb = popo::generate(model, prompts, sc, static_cast<const popo::Tokenizer*>(nullptr));
      int64_t early = 0;
      for (auto f : rb.finish) early += f == popo::FinishReason::kStop;
      std::printf("| %s | %lld | %.2f | %.1f |\n", compact ? "compact batch + cache" : "keep computing finished rows",
                  static_cast<long long>(early), rb.decode_seconds, 1e3 * rb.decode_seconds / rb.decode_steps);
      std::fflush(stdout);
    }
  }

  // Threads: libtorch intra-op pool x OpenBLAS pool, decode of the 0.5B shape at batch 16.
  {
    auto prompts = random_prompts(16, 8, qwen25_05b_config().vocab_size, 4);
    std::printf("\n| intra-op threads | OpenBLAS threads | decode ms/step (0.5B shape, batch 16) | prefill s |\n|---|---|---|---|\n");
    for (auto [ti, tb] : std::vector<std::pair<int, int>>{{1, 2}, {2, 2}, {1, 1}, {2, 1}}) {
      torch::set_num_threads(ti);
      set_blas_threads(tb);
      popo::SamplingConfig sc;
      sc.temperature = 0.0;
      sc.max_new_tokens = quick ? 3 : 6;
      auto rb = popo::generate(model, prompts, sc, static_cast<const popo::Tokenizer*>(nullptr));
      std::printf("| %d | %d | %.1f | %.2f |\n", ti, tb, 1e3 * rb.decode_seconds / rb.decode_steps, rb.prefill_seconds);
      std::fflush(stdout);
    }
  }
  std::filesystem::remove_all(tmp);
  return 0;
}
