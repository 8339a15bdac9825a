// `popo generate --model DIR --prompt TEXT`: encodes the prompt with the model folder's
// tokenizer.json, samples a continuation with the rollout sampler (greedy by default) and prints
// the text, or {"ids": [...], "text": "..."} with --json. Compute dtype: float32 on CPU, bfloat16
// on CUDA unless --dtype says otherwise. EOS ids come from config.json and generation_config.json.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io.h"
#include "core/log.h"
#include "model/dtype.h"
#include "model/load.h"
#include "sampling/generate.h"
#include "sampling/stop_tokens.h"
#include "tokenizer/tokenizer.h"
#include "tools/command.h"

namespace popo::tools {
namespace {

struct GenerateOptions {
  std::string model, prompt, dtype = "auto", device = "auto";
  int64_t max_tokens = 64, top_k = 0;
  double temperature = 0.0, top_p = 1.0;
  uint64_t seed = 0;
  // libtorch intra-op threads. 1 by default: OpenBLAS runs the matrix products on its own pool
  // (all cores), and a second busy pool beside it made fp32 decode 3.5x slower (bench_generate
  // thread table, 2-core VM, 2026-11-27: 933 ms/step at 1 vs 3268 ms/step at 2).
  int threads = 1;
  bool json = false;
};

void run_generate(const GenerateOptions& o) {
  init_runtime(o.threads);
  POPO_CHECK(path_exists(o.model), "model folder '", o.model, "' does not exist");
  const c10::Device device = parse_device(o.device);
  const c10::ScalarType dtype = o.dtype == "auto" ? default_dtype_for(device) : parse_dtype(o.dtype);
  const std::string tok_path = model_tokenizer_path(o.model);  // a LoRA adapter folder: maybe its base's
  POPO_CHECK(path_exists(tok_path), "model folder '", o.model, "' has no tokenizer.json");
  const Tokenizer tok = Tokenizer::from_file(tok_path);
  CausalLM model = load_model(o.model, dtype, device);
  const auto ids = tok.encode(o.prompt);
  POPO_CHECK(!ids.empty(), "the prompt encodes to no tokens");
  const int64_t ctx = model->config().max_position_embeddings;
  POPO_CHECK(static_cast<int64_t>(ids.size()) < ctx, "the prompt has ", ids.size(),
             " tokens, which does not fit the model's context of ", ctx, " positions");
  SamplingConfig cfg;
  cfg.temperature = o.temperature;
  cfg.top_p = o.top_p;
  cfg.top_k = o.top_k;
  cfg.max_new_tokens = o.max_tokens;
  cfg.seed = o.seed;
  cfg.eos_token_ids = resolve_stop_tokens(model_config_dir(o.model), model->config(), tok);
  RolloutBatch batch = generate(model, {ids}, cfg, &tok);
  for (const auto& w : batch.warnings) LOG_WARN(w);
  const std::vector<int32_t> out = batch.response_tokens(0);
  const std::string text = tok.decode(out);
  if (o.json) {
    nlohmann::json j;
    j["ids"] = out;
    j["text"] = text;
    j["finish_reason"] = finish_reason_name(batch.finish[0]);
    std::cout << j.dump() << "\n";
  } else {
    std::cout << text << "\n";
  }
}

const CommandRegistrar kRegistrar(
    "generate", "continue a prompt with a model (greedy by default)", /*order=*/30, [](CLI::App& app) {
      auto o = std::make_shared<GenerateOptions>();
      app.add_option("--model", o->model, "HF model folder (config.json, *.safetensors, tokenizer.json)")
          ->required();
      app.add_option("--prompt", o->prompt, "prompt text (used as is; no chat template)")->required();
      app.add_option("--max-tokens", o->max_tokens, "new tokens at most")->capture_default_str();
      app.add_option("--temperature", o->temperature, "softmax temperature; 0 = greedy")->capture_default_str();
      app.add_option("--top-p", o->top_p, "nucleus sampling mass; 1 = off")->capture_default_str();
      app.add_option("--top-k", o->top_k, "keep the k most likely tokens; 0 = off")->capture_default_str();
      app.add_option("--seed", o->seed, "sampling seed")->capture_default_str();
      app.add_option("--dtype", o->dtype, "auto (float32 on CPU, bfloat16 on CUDA), float32, bfloat16, float16")
          ->capture_default_str();
      app.add_option("--device", o->device, "auto, cpu, cuda, cuda:N")->capture_default_str();
      app.add_option("--threads", o->threads, "libtorch intra-op threads")->capture_default_str();
      app.add_flag("--json", o->json, "print {\"ids\": [...], \"text\": \"...\"}");
      app.callback([o] { run_generate(*o); });
    });

}  // namespace
}  // namespace popo::tools
