// bench_lora: LoRA against full fine-tuning for one POPO run's state and step, at one shape.
// Each mode runs in its own child process (so its peak resident memory is its own):
//   full  - the policy trains every parameter; the siamese is a second full model (EMA)
//   lora  - the base is frozen and shared; the policy trains fp32 adapters (lora.rank, all seven
//           projections) and the siamese is an EMA of the adapters over the same base
// and prints, side by side, the bytes of each kind of state measured from the tensors the
// learner holds (base weights, trained tensors, their gradients, AdamW moments, fp32 masters,
// the siamese's own tensors, the predictor), the step time (coefficients + optimizer step), and
// the peak resident memory of the child. A second table times sampling with adapters: decoding
// with the side product s B A x at every adapted projection against a merged copy of the weights
// (and what merging costs each time the adapters change).
// Usage: bench_lora [--shape mid] [--dtype float32|bfloat16] [--rank 16] [--prompts 2]
//          [--group 4] [--prompt-len 64] [--response-len 128] [--iters 2] [--decode 32]
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_util.h"
#include "core/config.h"
#include "model/dtype.h"
#include "model/load.h"
#include "model/lora.h"
#include "model/memory.h"
#include "train/learner.h"

namespace {

using namespace popo;
using bench::Clock;
using bench::seconds_since;

int64_t bytes_of(const std::vector<at::Tensor>& ts) {
  int64_t n = 0;
  for (const at::Tensor& t : ts)
    if (t.defined()) n += t.numel() * int64_t(t.element_size());
  return n;
}

// One mode's state bytes, step time and peak RSS (run in a child).
nlohmann::json run_mode(const bench::Args& args, bool lora) {
  const ModelConfig cfg = bench::shape_config(args.get("shape", "mid"));
  const c10::ScalarType dtype = parse_dtype(args.get("dtype", "float32"));
  const int64_t prompts = args.get_int("prompts", 2), group = args.get_int("group", 4);
  const int64_t P = args.get_int("prompt-len", 64), R = args.get_int("response-len", 128);
  const int64_t iters = args.get_int("iters", 2);
  const c10::Device dev(c10::kCPU);
  LoraConfig lc;
  lc.rank = args.get_int("rank", 16);
  lc.alpha = 2.0 * double(lc.rank);

  reset_peak_memory(dev);
  CausalLM policy = bench::random_model(cfg, dev, dtype, 1);
  CausalLM siamese{nullptr};
  if (lora) {
    attach_lora(policy, lc, 3);
    siamese = share_base(policy);
    siamese->lora = clone_lora_adapters(*policy->lora);
  } else {
    siamese = bench::random_model(cfg, dev, dtype, 1);
  }
  for (const at::Tensor& t : own_tensors(siamese)) t.set_requires_grad(false);
  AlgoConfig algo;
  algo.name = Algorithm::kPopo;
  algo.popo.kl_every = 0;
  Predictor predictor(cfg.hidden_size, algo.popo.predictor_hidden, algo.popo.predictor_layers);
  OptimConfig optim;
  optim.lr = lora ? 1e-4 : 1e-6;
  optim.steps = 100;
  LearnerConfig lcfg;
  lcfg.update.micro_batch_size = args.get_int("micro-batch", 4);
  Learner learner(policy, predictor, algo, optim, lcfg, siamese);
  RolloutBatch batch = bench::random_rollouts(prompts, group, P, R, cfg.vocab_size);
  const torch::Tensor rewards = (torch::arange(prompts * group) % 2 == 0).to(torch::kFloat);

  double t = 0;
  for (int64_t it = 0; it <= iters; ++it) {  // one warm-up
    auto t0 = Clock::now();
    const torch::Tensor coef = learner.coefficients(batch, rewards);
    learner.step(batch, rewards, coef);
    if (it > 0) t += seconds_since(t0) / double(iters);
  }
  std::vector<at::Tensor> grads, moments;
  for (const at::Tensor& p : learner.trainable_parameters()) grads.push_back(p.grad());
  for (const at::Tensor& m : learner.master_weights()) grads.push_back(m.grad());
  for (auto& item : learner.optimizer().state()) {
    auto& st = static_cast<torch::optim::AdamWParamState&>(*item.second);
    moments.push_back(st.exp_avg());
    moments.push_back(st.exp_avg_sq());
  }
  const std::vector<at::Tensor> own = own_tensors(policy);
  std::vector<at::Tensor> siamese_state = own_tensors(siamese);
  for (const at::Tensor& m : learner.siamese_master_weights()) siamese_state.push_back(m);
  return {{"mode", lora ? "lora" : "full"},
          {"params", cfg.num_parameters()},
          {"base_bytes", bytes_of(policy->parameters())},
          {"trained_bytes", bytes_of(own)},
          {"trained_numel", lora ? policy->lora->numel() : cfg.num_parameters()},
          {"grad_bytes", bytes_of(grads)},
          {"optimizer_bytes", bytes_of(moments)},
          {"master_bytes", bytes_of(learner.master_weights())},
          {"siamese_bytes", bytes_of(siamese_state)},
          {"predictor_bytes", bytes_of(predictor->parameters())},
          {"step_s", t},
          {"peak_rss", memory_stats(dev).peak_bytes}};
}

// Returns the mean seconds per decoded token of B rows with a KV cache.
double decode_seconds(CausalLM& m, int64_t B, int64_t prompt, int64_t steps, int64_t vocab) {
  torch::NoGradGuard g;
  torch::manual_seed(3);
  KVCache cache = m->make_cache(B, prompt + steps + 1);
  torch::Tensor ids = torch::randint(1, vocab, {B, prompt}, torch::kLong);
  torch::Tensor mask = torch::ones({B, prompt}, torch::kLong);
  torch::Tensor logits = m->forward(ids, mask, &cache);
  auto t0 = Clock::now();
  for (int64_t s = 0; s < steps; ++s) {
    torch::Tensor next = logits.select(1, logits.size(1) - 1).argmax(-1).unsqueeze(1);  // (B, 1)
    mask = torch::cat({mask, torch::ones({B, 1}, torch::kLong)}, 1);
    logits = m->forward(next, mask, &cache);
  }
  return seconds_since(t0) / double(steps);
}

// Pipes a child's row back to the parent.
nlohmann::json in_child(const std::function<nlohmann::json()>& fn) {
  int fd[2];
  POPO_CHECK(::pipe(fd) == 0, "bench_lora: pipe failed");
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fd[0]);
    std::string out;
    try {
      out = fn().dump();
    } catch (const std::exception& e) {
      out = nlohmann::json({{"error", e.what()}}).dump();
    }
    (void)!::write(fd[1], out.data(), out.size());
    ::close(fd[1]);
    ::_exit(0);
  }
  ::close(fd[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd[0], buf, sizeof buf)) > 0;) text.append(buf, size_t(n));
  ::close(fd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  nlohmann::json j = nlohmann::json::parse(text);
  POPO_CHECK(!j.contains("error"), "bench_lora: ", j.value("error", std::string()));
  return j;
}

std::string mb(int64_t b) {
  char s[32];
  std::snprintf(s, sizeof s, "%.1f MB", double(b) / 1e6);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    bench::Args args(argc, argv);
    torch::set_num_threads(1);
    const std::string shape = args.get("shape", "mid");
    const std::string dtype = args.get("dtype", "float32");
    const int64_t rank = args.get_int("rank", 16);
    std::printf("bench_lora: shape %s, %s, POPO step of %lld x (%lld + %lld) tokens, LoRA rank %lld on all seven "
                "projections\n\n", shape.c_str(), dtype.c_str(),
                static_cast<long long>(args.get_int("prompts", 2) * args.get_int("group", 4)),
                static_cast<long long>(args.get_int("prompt-len", 64)),
                static_cast<long long>(args.get_int("response-len", 128)), static_cast<long long>(rank));
    const nlohmann::json full = in_child([&] { return run_mode(args, false); });
    const nlohmann::json lora = in_child([&] { return run_mode(args, true); });
    std::printf("| state (measured from the tensors held) | full fine-tuning | LoRA r=%lld | LoRA / full |\n",
                static_cast<long long>(rank));
    std::printf("|---|---|---|---|\n");
    for (const auto& [key, label] : std::vector<std::pair<const char*, const char*>>{
             {"base_bytes", "model weights (base)"},
             {"trained_bytes", "trained tensors (all weights | adapters)"},
             {"grad_bytes", "gradients (trained tensors + predictor)"},
             {"optimizer_bytes", "AdamW moments (trained tensors + predictor)"},
             {"master_bytes", "fp32 masters"},
             {"siamese_bytes", "siamese (own tensors + masters)"},
             {"predictor_bytes", "predictor"}}) {
      const int64_t f = full[key].get<int64_t>(), l = lora[key].get<int64_t>();
      std::printf("| %s | %s | %s | %s |\n", label, mb(f).c_str(), mb(l).c_str(),
                  f > 0 ? (std::to_string(int(100.0 * double(l) / double(f) + 0.5)) + "%").c_str() : "-");
    }
    std::printf("| trained parameters | %lld | %lld | %.2f%% |\n", static_cast<long long>(full["trained_numel"].get<int64_t>()),
                static_cast<long long>(lora["trained_numel"].get<int64_t>()),
                100.0 * lora["trained_numel"].get<double>() / full["trained_numel"].get<double>());
    std::printf("| step time (coefficients + update) | %.3f s | %.3f s | %.2fx |\n", full["step_s"].get<double>(),
                lora["step_s"].get<double>(), lora["step_s"].get<double>() / full["step_s"].get<double>());
    std::printf("| peak resident memory of the process | %s | %s | %s |\n\n", mb(full["peak_rss"].get<int64_t>()).c_str(),
                mb(lora["peak_rss"].get<int64_t>()).c_str(),
                (std::to_string(int(100.0 * lora["peak_rss"].get<double>() / full["peak_rss"].get<double>() + 0.5)) + "%").c_str());

    // Sampling with adapters: the side product against a merged copy.
    const nlohmann::json dec = in_child([&] {
      const ModelConfig cfg = bench::shape_config(shape);
      const c10::ScalarType dt = parse_dtype(dtype);
      const int64_t B = args.get_int("prompts", 2) * args.get_int("group", 4), steps = args.get_int("decode", 32);
      CausalLM m = bench::random_model(cfg, c10::Device(c10::kCPU), dt, 1);
      const double base = decode_seconds(m, B, 64, steps, cfg.vocab_size);
      LoraConfig lc;
      lc.rank = rank;
      lc.alpha = 2.0 * double(rank);
      attach_lora(m, lc, 3);
      const double side = decode_seconds(m, B, 64, steps, cfg.vocab_size);
      CausalLM merged = bench::random_model(cfg, c10::Device(c10::kCPU), dt, 1);
      merged->lora = m->lora;
      auto t0 = Clock::now();
      merge_lora(merged);
      const double merge_s = seconds_since(t0);
      const double merged_s = decode_seconds(merged, B, 64, steps, cfg.vocab_size);
      return nlohmann::json{{"base", base}, {"side", side}, {"merged", merged_s}, {"merge", merge_s},
                            {"copy_bytes", bytes_of(merged->parameters())}, {"B", B}, {"steps", steps}};
    });
    std::printf("| sampling with adapters (%lld rows, %lld decode steps) | ms / decode step | vs base | extra memory |\n",
                static_cast<long long>(dec["B"].get<int64_t>()), static_cast<long long>(dec["steps"].get<int64_t>()));
    std::printf("|---|---|---|---|\n");
    const double b = dec["base"].get<double>();
    std::printf("| base model, no adapters | %.2f | 1.00x | - |\n", 1e3 * b);
    std::printf("| side product s B A x (popo's sampler) | %.2f | %.2fx | none |\n", 1e3 * dec["side"].get<double>(),
                dec["side"].get<double>() / b);
    std::printf("| merged copy of the weights | %.2f | %.2fx | %s (a second model) |\n",
                1e3 * dec["merged"].get<double>(), dec["merged"].get<double>() / b,
                mb(dec["copy_bytes"].get<int64_t>()).c_str());
    std::printf("| merging once per step (W + s B A, every projection) | %.1f ms per step | | |\n",
                1e3 * dec["merge"].get<double>());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_lora: error: %s\n", e.what());
    return 1;
  }
}
