// bench_update: one RL update (the Learner's optimizer step: forward, backward, AdamW) on random
// rollouts of a random-weight Qwen2.5-shaped model, timed per phase with the peak memory of each:
//   coef      - POPO's no-grad forward over the positives for the softmax weights (0 for GRPO)
//   fwd+bwd   - Learner::accumulate_gradients (policy forward/backward, siamese forward, predictor)
//   optimizer - the rest of Learner::step (clip, AdamW, siamese momentum update)
// and tokens/s with the model FLOPs utilisation 6 * params * tokens / time / measured matmul rate.
// The baseline (a plain PyTorch + transformers step of the GRPO loss) is
// bench/python/hf_gpu_baseline.py; bench/gpu.sh runs both and prints one table.
// Usage: bench_update [--device cuda] [--dtype bfloat16] [--shape qwen2.5-0.5b] [--algo popo|grpo]
//          [--prompts 2] [--group 8] [--prompt-len 128] [--response-len 896] [--micro-batch 4]
//          [--iters 2] [--warmup 1] [--grad-ckpt] [--predictor-hidden 1024] [--json FILE]
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/config.h"
#include "bench_util.h"
#include "model/dtype.h"
#include "model/memory.h"
#include "train/learner.h"

namespace {

using namespace popo;
using bench::Clock;
using bench::seconds_since;

}  // namespace

int main(int argc, char** argv) {
  try {
    bench::Args args(argc, argv);
    const c10::Device dev = bench::bench_device(args.get("device", "auto"));
    const c10::ScalarType dtype = parse_dtype(args.get("dtype", dev.is_cuda() ? "bfloat16" : "float32"));
    const std::string shape = args.get("shape", dev.is_cuda() ? "qwen2.5-0.5b" : "tiny");
    const std::string algo_name = args.get("algo", "popo");
    const int64_t prompts = args.get_int("prompts", 2), group = args.get_int("group", 8);
    const int64_t P = args.get_int("prompt-len", 128), R = args.get_int("response-len", 896);
    const int64_t iters = args.get_int("iters", 2), warmup = args.get_int("warmup", 1);
    const bool ckpt = args.has("grad-ckpt");
    const ModelConfig cfg = bench::shape_config(shape);

    AlgoConfig algo;
    algo.name = parse_enum<Algorithm>(algo_name, "--algo");
    algo.popo.predictor_hidden = args.get_int("predictor-hidden", 1024);
    algo.popo.kl_every = 0;   // no periodic KL forward inside the timed steps
    algo.grpo.kl_coef = 0.0;  // no reference model (TRL's default beta = 0)
    OptimConfig optim;
    optim.lr = 1e-6;
    optim.steps = 100;
    LearnerConfig lcfg;
    lcfg.update.micro_batch_size = args.get_int("micro-batch", 4);

    nlohmann::json row = {{"program", "popo"}, {"algo", algo_name}, {"shape", shape},
                          {"device", dev.str()}, {"dtype", dtype_name(dtype)},
                          {"rollouts", prompts * group}, {"prompt_len", P}, {"response_len", R},
                          {"micro_batch", lcfg.update.micro_batch_size}, {"grad_ckpt", ckpt},
                          {"params", cfg.num_parameters()}};
    if (dev.is_cuda()) row["gpu"] = "cuda";
    const double peak_rate = bench::matmul_rate(dev, dtype, dev.is_cuda() ? 8192 : 512);
    row["matmul_tflops"] = peak_rate / 1e12;

    reset_peak_memory(dev);
    CausalLM policy = bench::random_model(cfg, dev, dtype, /*seed=*/1);
    policy->gradient_checkpointing = ckpt;
    CausalLM siamese{nullptr};
    Predictor predictor{nullptr};
    if (algo.needs_siamese()) {
      siamese = bench::random_model(cfg, dev, dtype, /*seed=*/1);
      predictor = Predictor(cfg.hidden_size, algo.popo.predictor_hidden, algo.popo.predictor_layers);
      predictor->to(dev);  // float32, as the reference code
    }
    Learner learner(policy, predictor, algo, optim, lcfg, siamese);
    RolloutBatch batch = bench::random_rollouts(prompts, group, P, R, cfg.vocab_size);
    torch::Tensor rewards = (torch::arange(prompts * group) % 2 == 0).to(torch::kFloat);  // (N)
    row["weights_bytes"] = memory_stats(dev).current_bytes;

    double t_coef = 0, t_step = 0;
    int64_t peak_coef = 0, peak_step = 0;
    bool skipped = false;
    try {
      for (int64_t it = 0; it < warmup + iters; ++it) {
        reset_peak_memory(dev);
        bench::sync(dev);
        auto t0 = Clock::now();
        torch::Tensor coef = learner.coefficients(batch, rewards);
        bench::sync(dev);
        const double dc = seconds_since(t0);
        const int64_t pc = memory_stats(dev).peak_bytes;
        reset_peak_memory(dev);
        auto t1 = Clock::now();
        LearnerStep st = learner.step(batch, rewards, coef);
        bench::sync(dev);
        const double ds = seconds_since(t1);
        skipped = skipped || st.skipped;
        if (it >= warmup) {
          t_coef += dc / iters, t_step += ds / iters;
          peak_coef = std::max(peak_coef, pc);
          peak_step = std::max(peak_step, memory_stats(dev).peak_bytes);
        }
      }
      // fwd+bwd alone, to split the step into its gradient and optimizer parts.
      torch::Tensor coef = learner.coefficients(batch, rewards);
      bench::sync(dev);
      auto t2 = Clock::now();
      learner.accumulate_gradients(batch, rewards, coef);
      bench::sync(dev);
      const double t_fb = seconds_since(t2);
      const double tokens = static_cast<double>(prompts * group * (P + R));
      const double total = t_coef + t_step;
      row["fits"] = true;
      row["skipped_update"] = skipped;
      row["coef_s"] = t_coef;
      row["fwd_bwd_s"] = t_fb;
      row["optimizer_s"] = std::max(0.0, t_step - t_fb);
      row["step_s"] = total;
      row["tokens"] = tokens;
      row["tokens_per_s"] = tokens / total;
      row["mfu"] = 6.0 * cfg.num_parameters() * tokens / total / peak_rate;
      row["peak_coef_bytes"] = peak_coef;
      row["peak_step_bytes"] = peak_step;
    } catch (const c10::Error& e) {
      // Out of memory (c10::OutOfMemoryError derives from c10::Error) answers "fits?" with no.
      std::string what = e.what();
      row["fits"] = false;
      row["error"] = what.substr(0, what.find('\n'));
    }
    row["memory_source"] = memory_stats(dev).source;

    std::printf("| program | algo | shape | device/dtype | rollouts x (P+R) | ckpt | fits | coef s | fwd+bwd s | optim s | tokens/s | MFU | peak step |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    if (row["fits"].get<bool>()) {
      std::printf("| popo | %s | %s | %s/%s | %lld x %lld | %s | yes | %.3f | %.3f | %.3f | %.0f | %.1f%% | %s |\n",
                  algo_name.c_str(), shape.c_str(), dev.str().c_str(), dtype_name(dtype).c_str(),
                  static_cast<long long>(prompts * group), static_cast<long long>(P + R), ckpt ? "on" : "off",
                  row["coef_s"].get<double>(), row["fwd_bwd_s"].get<double>(), row["optimizer_s"].get<double>(),
                  row["tokens_per_s"].get<double>(), 100.0 * row["mfu"].get<double>(),
                  format_bytes(row["peak_step_bytes"].get<int64_t>()).c_str());
    } else {
      std::printf("| popo | %s | %s | %s/%s | %lld x %lld | %s | NO: %s |||||||\n", algo_name.c_str(), shape.c_str(),
                  dev.str().c_str(), dtype_name(dtype).c_str(), static_cast<long long>(prompts * group),
                  static_cast<long long>(P + R), ckpt ? "on" : "off", row["error"].get<std::string>().c_str());
    }
    if (args.has("json")) {
      std::ofstream out(args.get("json", ""), std::ios::app);
      out << row.dump() << "\n";
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_update: error: %s\n", e.what());
    return 1;
  }
}
