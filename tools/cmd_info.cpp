// `popo info --model DIR`: prints a model folder's architecture, dimensions, parameter count and
// stored dtype from config.json and the safetensors headers, without loading any weights.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>
#include <memory>

#include "core/error.h"
#include "core/io.h"
#include "model/config.h"
#include "model/safetensors.h"
#include "tools/command.h"

namespace popo::tools {
namespace {

struct InfoOptions {
  std::string model;
  // libtorch intra-op threads. 1 by default: OpenBLAS runs the matrix products on its own pool
  // (all cores), and a second busy pool beside it made fp32 decode 3.5x slower (bench_generate
  // thread table, 2-core VM, 2026-11-27: 933 ms/step at 1 vs 3268 ms/step at 2).
  int threads = 1;
};

void run_info(const InfoOptions& o) {
  init_runtime(o.threads);
  POPO_CHECK(path_exists(o.model), "model folder '", o.model, "' does not exist");
  const ModelConfig c = ModelConfig::from_file(path_join(o.model, "config.json"));
  std::map<std::string, int64_t> dtype_counts;
  int64_t stored = 0;
  for (const auto& f : safetensors_files(o.model)) {
    SafetensorsFile st = SafetensorsFile::open(f);
    for (const auto& name : st.names()) {
      const auto& e = st.entry(name);
      int64_t n = 1;
      for (int64_t d : e.shape) n *= d;
      dtype_counts[e.dtype] += n;
      stored += n;
    }
  }
  std::printf("| field | value |\n|---|---|\n");
  std::printf("| model_type | %s |\n", c.model_type.c_str());
  std::printf("| vocab_size | %lld |\n", static_cast<long long>(c.vocab_size));
  std::printf("| hidden_size | %lld |\n", static_cast<long long>(c.hidden_size));
  std::printf("| intermediate_size | %lld |\n", static_cast<long long>(c.intermediate_size));
  std::printf("| num_hidden_layers | %lld |\n", static_cast<long long>(c.num_hidden_layers));
  std::printf("| num_attention_heads | %lld |\n", static_cast<long long>(c.num_attention_heads));
  std::printf("| num_key_value_heads | %lld |\n", static_cast<long long>(c.num_key_value_heads));
  std::printf("| head_dim | %lld |\n", static_cast<long long>(c.head_dim));
  std::printf("| max_position_embeddings | %lld |\n", static_cast<long long>(c.max_position_embeddings));
  std::printf("| rope_theta | %g |\n", c.rope_theta);
  std::printf("| rms_norm_eps | %g |\n", c.rms_norm_eps);
  std::printf("| tie_word_embeddings | %s |\n", c.tie_word_embeddings ? "true" : "false");
  std::printf("| attention_bias | %s |\n", c.attention_bias ? "true" : "false");
  std::printf("| q/k norm | %s |\n", c.has_qk_norm() ? "true" : "false");
  std::printf("| parameters | %lld (%.3f M) |\n", static_cast<long long>(c.num_parameters()),
              static_cast<double>(c.num_parameters()) / 1e6);
  std::string dtypes;
  for (const auto& [dt, n] : dtype_counts) dtypes += (dtypes.empty() ? "" : ", ") + dt;
  std::printf("| stored dtype | %s |\n", dtypes.empty() ? "(no model.safetensors)" : dtypes.c_str());
  if (stored > 0) std::printf("| stored elements | %lld |\n", static_cast<long long>(stored));
}

const CommandRegistrar kRegistrar("info", "print a model folder's architecture, sizes and dtype", /*order=*/40,
                                  [](CLI::App& app) {
                                    auto o = std::make_shared<InfoOptions>();
                                    app.add_option("--model", o->model, "HF model folder (config.json, *.safetensors)")
                                        ->required();
                                    app.add_option("--threads", o->threads, "libtorch intra-op threads")
                                        ->capture_default_str();
                                    app.callback([o] { run_info(*o); });
                                  });

}  // namespace
}  // namespace popo::tools
