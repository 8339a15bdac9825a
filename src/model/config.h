// ModelConfig: the decoder hyper-parameters read from a Hugging Face config.json, with fields
// named exactly as the HF keys. Covers model_type qwen2 | qwen3 | llama with the default RoPE
// only; anything else is rejected with the key that asked for it. Mirrors transformers'
// Qwen2Config / Qwen3Config / LlamaConfig (v4 top-level rope_theta and v5 rope_parameters).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace popo {

struct ModelConfig {
  std::string model_type;              // "qwen2" | "qwen3" | "llama"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;             // C
  int64_t intermediate_size = 0;       // I
  int64_t num_hidden_layers = 0;       // L
  int64_t num_attention_heads = 0;     // H
  int64_t num_key_value_heads = 0;     // Hkv (defaults to H)
  int64_t head_dim = 0;                // D (defaults to C / H)
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;         // top-level (v4) or rope_parameters.rope_theta (v5)
  bool tie_word_embeddings = false;
  bool attention_bias = false;         // q/k/v bias: always true for qwen2
  std::vector<int64_t> eos_token_ids;  // eos_token_id: int, list or null
  int64_t bos_token_id = -1;           // -1 = null
  int64_t pad_token_id = -1;           // -1 = null

  // Returns the config parsed from a config.json object; origin (a path) prefixes errors.
  static ModelConfig from_json(const nlohmann::json& j, const std::string& origin);
  // Returns the config read from a config.json file.
  static ModelConfig from_file(const std::string& path);
  // Returns the HF config.json form (architectures, rope_theta in both spellings, ...);
  // from_json(to_json()) reproduces this config.
  nlohmann::json to_json() const;
  // Returns the number of parameters of the model this config describes (lm_head counted once
  // when untied, not at all when tied).
  int64_t num_parameters() const;
  // Returns true when the attention has per-head q/k RMSNorm (qwen3).
  bool has_qk_norm() const { return model_type == "qwen3"; }
  // Llama and Qwen3 give o_proj a bias with attention_bias; Qwen2 biases q/k/v only.
  bool has_o_proj_bias() const { return attention_bias && model_type != "qwen2"; }
};

// Returns the model types this program can build ("qwen2", "qwen3", "llama").
const std::vector<std::string>& known_model_types();

}  // namespace popo
