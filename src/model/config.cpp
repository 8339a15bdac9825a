#include "model/config.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io.h"

namespace popo {

namespace {

using nlohmann::json;

// Returns j[key] as int64, or fallback when the key is absent or null.
int64_t get_int(const json& j, const char* key, int64_t fallback, const std::string& origin) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  POPO_CHECK(it->is_number_integer(), origin, ": key '", key, "' must be an integer, got ", it->dump());
  return it->get<int64_t>();
}

// Returns j[key] as int64; the key must be present.
int64_t require_int(const json& j, const char* key, const std::string& origin) {
  POPO_CHECK(j.contains(key) && !j.at(key).is_null(), origin, ": required key '", key, "' is missing");
  return get_int(j, key, 0, origin);
}

double get_double(const json& j, const char* key, double fallback, const std::string& origin) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  POPO_CHECK(it->is_number(), origin, ": key '", key, "' must be a number, got ", it->dump());
  return it->get<double>();
}

bool get_bool(const json& j, const char* key, bool fallback, const std::string& origin) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  POPO_CHECK(it->is_boolean(), origin, ": key '", key, "' must be true or false, got ", it->dump());
  return it->get<bool>();
}

// Throws unless a rope block (rope_parameters or rope_scaling) asks for the default rope type.
void check_rope_type(const json& block, const std::string& key, const std::string& origin) {
  if (block.is_null()) return;
  POPO_CHECK(block.is_object(), origin, ": key '", key, "' must be an object, got ", block.dump());
  std::string type = "default";
  if (block.contains("rope_type") && !block.at("rope_type").is_null()) {
    type = block.at("rope_type").get<std::string>();
  } else if (block.contains("type") && !block.at("type").is_null()) {
    type = block.at("type").get<std::string>();
  }
  POPO_CHECK(type == "default", origin, ": ", key, ".rope_type '", type,
             "' is not supported; only the default RoPE is implemented");
}

std::string architecture_name(const std::string& model_type) {
  if (model_type == "qwen2") return "Qwen2ForCausalLM";
  if (model_type == "qwen3") return "Qwen3ForCausalLM";
  return "LlamaForCausalLM";
}

}  // namespace

const std::vector<std::string>& known_model_types() {
  static const std::vector<std::string> kTypes = {"qwen2", "qwen3", "llama"};
  return kTypes;
}

ModelConfig ModelConfig::from_json(const json& j, const std::string& origin) {
  POPO_CHECK(j.is_object(), origin, ": expected a JSON object, got ", j.type_name());
  ModelConfig c;
  POPO_CHECK(j.contains("model_type") && j.at("model_type").is_string(), origin,
             ": key 'model_type' is missing; expected one of qwen2, qwen3, llama");
  c.model_type = j.at("model_type").get<std::string>();
  const auto& known = known_model_types();
  if (std::find(known.begin(), known.end(), c.model_type) == known.end()) {
    POPO_FAIL(origin, ": model_type '", c.model_type, "' is not supported; known: qwen2, qwen3, llama");
  }
  c.vocab_size = require_int(j, "vocab_size", origin);
  c.hidden_size = require_int(j, "hidden_size", origin);
  c.intermediate_size = require_int(j, "intermediate_size", origin);
  c.num_hidden_layers = require_int(j, "num_hidden_layers", origin);
  c.num_attention_heads = require_int(j, "num_attention_heads", origin);
  c.num_key_value_heads = get_int(j, "num_key_value_heads", c.num_attention_heads, origin);
  POPO_CHECK(c.hidden_size > 0 && c.num_attention_heads > 0 && c.num_key_value_heads > 0 &&
                 c.vocab_size > 0 && c.intermediate_size > 0 && c.num_hidden_layers > 0,
             origin, ": sizes must be positive");
  POPO_CHECK(c.num_attention_heads % c.num_key_value_heads == 0, origin, ": num_attention_heads (",
             c.num_attention_heads, ") must be a multiple of num_key_value_heads (",
             c.num_key_value_heads, ")");
  c.head_dim = get_int(j, "head_dim", c.hidden_size / c.num_attention_heads, origin);
  POPO_CHECK(c.head_dim > 0 && c.head_dim % 2 == 0, origin, ": head_dim must be positive and even, got ",
             c.head_dim);
  c.max_position_embeddings = get_int(j, "max_position_embeddings", 2048, origin);
  c.rms_norm_eps = get_double(j, "rms_norm_eps", 1e-6, origin);
  c.tie_word_embeddings = get_bool(j, "tie_word_embeddings", false, origin);
  c.attention_bias = c.model_type == "qwen2" ? true : get_bool(j, "attention_bias", false, origin);

  // RoPE: transformers 5 writes rope_parameters {rope_theta, rope_type}; v4 writes rope_theta at
  // the top level and rope_scaling (null for the default rope).
  c.rope_theta = get_double(j, "rope_theta", 10000.0, origin);
  if (j.contains("rope_parameters") && !j.at("rope_parameters").is_null()) {
    const json& rp = j.at("rope_parameters");
    check_rope_type(rp, "rope_parameters", origin);
    c.rope_theta = get_double(rp, "rope_theta", c.rope_theta, origin);
  }
  if (j.contains("rope_scaling")) check_rope_type(j.at("rope_scaling"), "rope_scaling", origin);

  const std::string act = j.value("hidden_act", std::string("silu"));
  POPO_CHECK(act == "silu", origin, ": hidden_act '", act, "' is not supported; expected silu");
  POPO_CHECK(!get_bool(j, "mlp_bias", false, origin), origin, ": mlp_bias true is not supported");
  POPO_CHECK(!get_bool(j, "use_sliding_window", false, origin), origin,
             ": use_sliding_window true is not supported");

  if (j.contains("eos_token_id") && !j.at("eos_token_id").is_null()) {
    const json& e = j.at("eos_token_id");
    if (e.is_array()) {
      for (const auto& v : e) {
        POPO_CHECK(v.is_number_integer(), origin, ": eos_token_id entries must be integers, got ", v.dump());
        c.eos_token_ids.push_back(v.get<int64_t>());
      }
    } else {
      POPO_CHECK(e.is_number_integer(), origin, ": eos_token_id must be an integer, a list or null, got ",
                 e.dump());
      c.eos_token_ids.push_back(e.get<int64_t>());
    }
  }
  c.bos_token_id = get_int(j, "bos_token_id", -1, origin);
  c.pad_token_id = get_int(j, "pad_token_id", -1, origin);
  return c;
}

ModelConfig ModelConfig::from_file(const std::string& path) {
  POPO_CHECK(path_exists(path), path, ": config.json not found");
  json j;
  try {
    j = json::parse(read_file(path));
  } catch (const json::exception& e) {
    POPO_FAIL(path, ": not valid JSON (", e.what(), ")");
  }
  return from_json(j, path);
}

json ModelConfig::to_json() const {
  json j;
  j["architectures"] = json::array({architecture_name(model_type)});
  j["model_type"] = model_type;
  j["vocab_size"] = vocab_size;
  j["hidden_size"] = hidden_size;
  j["intermediate_size"] = intermediate_size;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_attention_heads"] = num_attention_heads;
  j["num_key_value_heads"] = num_key_value_heads;
  j["head_dim"] = head_dim;
  j["max_position_embeddings"] = max_position_embeddings;
  j["rms_norm_eps"] = rms_norm_eps;
  j["hidden_act"] = "silu";
  j["rope_theta"] = rope_theta;  // read by transformers 4
  j["rope_parameters"] = {{"rope_theta", rope_theta}, {"rope_type", "default"}};  // transformers 5
  j["tie_word_embeddings"] = tie_word_embeddings;
  if (model_type != "qwen2") j["attention_bias"] = attention_bias;
  if (model_type == "qwen2") j["use_sliding_window"] = false;
  if (eos_token_ids.empty()) {
    j["eos_token_id"] = nullptr;
  } else if (eos_token_ids.size() == 1) {
    j["eos_token_id"] = eos_token_ids[0];
  } else {
    j["eos_token_id"] = eos_token_ids;
  }
  j["bos_token_id"] = bos_token_id >= 0 ? json(bos_token_id) : json(nullptr);
  j["pad_token_id"] = pad_token_id >= 0 ? json(pad_token_id) : json(nullptr);
  return j;
}

int64_t ModelConfig::num_parameters() const {
  const int64_t C = hidden_size, H = num_attention_heads, Hkv = num_key_value_heads, D = head_dim;
  int64_t attn = C * H * D + 2 * C * Hkv * D + H * D * C;
  if (attention_bias) attn += H * D + 2 * Hkv * D;
  if (has_o_proj_bias()) attn += C;
  if (has_qk_norm()) attn += 2 * D;
  const int64_t mlp = 3 * C * intermediate_size;
  const int64_t layer = attn + mlp + 2 * C;
  int64_t n = vocab_size * C + num_hidden_layers * layer + C;
  if (!tie_word_embeddings) n += vocab_size * C;
  return n;
}

}  // namespace popo
