// bench_rollout: sampled generation throughput of the rollout sampler (src/sampling/generate.cpp)
// on a random-weight Qwen2.5-shaped model at a given batch, on CPU or CUDA: tokens/s, prefill
// and decode seconds, peak memory. Sampling as TRL without vLLM: temperature 1, no top-k/top-p,
// no EOS (every row generates the full budget). The baseline is HF generate in
// bench/python/hf_gpu_baseline.py; bench/gpu.sh runs both on the same card and prints one table.
// (bench_generate is the CPU benchmark with its own baselines.)
// Usage: bench_rollout [--device cuda] [--dtype bfloat16] [--shape qwen2.5-0.5b] [--batch 64]
//          [--group 1] [--prompt-len 128] [--new-tokens 256] [--json FILE]
#include <torch/torch.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_util.h"
#include "model/dtype.h"
#include "model/memory.h"
#include "sampling/generate.h"

int main(int argc, char** argv) {
  using namespace popo;
  try {
    bench::Args args(argc, argv);
    const c10::Device dev = bench::bench_device(args.get("device", "auto"));
    const c10::ScalarType dtype = parse_dtype(args.get("dtype", dev.is_cuda() ? "bfloat16" : "float32"));
    const std::string shape = args.get("shape", dev.is_cuda() ? "qwen2.5-0.5b" : "tiny");
    const int64_t batch = args.get_int("batch", 64), group = args.get_int("group", 1);
    const int64_t P = args.get_int("prompt-len", 128), new_tokens = args.get_int("new-tokens", 256);
    const ModelConfig cfg = bench::shape_config(shape);
    CausalLM model = bench::random_model(cfg, dev, dtype, /*seed=*/1);
    model->eval();

    // batch / group distinct prompts of P random tokens (batch rows in all).
    POPO_CHECK(batch % group == 0, "bench_rollout: --batch ", batch, " is not a multiple of --group ", group);
    torch::manual_seed(3);
    auto ids = torch::randint(1, cfg.vocab_size, {batch / group, P}, torch::kInt);
    std::vector<std::vector<int32_t>> prompts;
    for (int64_t i = 0; i < ids.size(0); ++i) {
      prompts.emplace_back(ids[i].data_ptr<int32_t>(), ids[i].data_ptr<int32_t>() + P);
    }
    SamplingConfig sc;
    sc.temperature = 1.0;
    sc.top_k = 0;
    sc.top_p = 1.0;
    sc.group_size = group;
    sc.seed = 11;
    torch::NoGradGuard no_grad;
    // Warm-up: kernels, allocator pools.
    sc.max_new_tokens = 8;
    generate(model, prompts, sc, DecodeFn());
    bench::sync(dev);

    sc.max_new_tokens = new_tokens;
    reset_peak_memory(dev);
    auto t = bench::Clock::now();
    RolloutBatch out = generate(model, prompts, sc, DecodeFn());
    bench::sync(dev);
    const double secs = bench::seconds_since(t);
    const double generated = out.response_mask.sum().item<double>();
    const auto mem = memory_stats(dev);
    nlohmann::json row = {{"program", "popo"}, {"phase", "generate"}, {"shape", shape},
                          {"device", dev.str()}, {"dtype", dtype_name(dtype)}, {"batch", batch},
                          {"group", group}, {"prompt_len", P}, {"new_tokens", new_tokens},
                          {"generated_tokens", generated}, {"seconds", secs},
                          {"tokens_per_s", generated / secs}, {"prefill_s", out.prefill_seconds},
                          {"decode_s", out.decode_seconds}, {"peak_bytes", mem.peak_bytes},
                          {"memory_source", mem.source}};
    std::printf("| program | shape | device/dtype | batch (G) | prompt + new | tokens/s | prefill s | decode s | peak |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|\n");
    std::printf("| popo | %s | %s/%s | %lld (%lld) | %lld + %lld | %.0f | %.3f | %.3f | %s |\n", shape.c_str(),
                dev.str().c_str(), dtype_name(dtype).c_str(), static_cast<long long>(batch),
                static_cast<long long>(group), static_cast<long long>(P), static_cast<long long>(new_tokens),
                generated / secs, out.prefill_seconds, out.decode_seconds, format_bytes(mem.peak_bytes).c_str());
    if (args.has("json")) {
      std::ofstream f(args.get("json", ""), std::ios::app);
      f << row.dump() << "\n";
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_rollout: error: %s\n", e.what());
    return 1;
  }
}
