#include "model/load.h"

#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io.h"
#include "core/log.h"
#include "model/dtype.h"
#include "model/lora.h"
#include "model/safetensors.h"

namespace popo {

namespace {

bool ignorable_key(const std::string& name) {
  // Older checkpoints store the rope frequencies as a buffer; they are recomputed here.
  return name.size() >= 19 && name.compare(name.size() - 19, 19, "rotary_emb.inv_freq") == 0;
}

}  // namespace

void load_weights(CausalLM& model, const std::map<std::string, at::Tensor>& tensors, const std::string& origin) {
  torch::NoGradGuard no_grad;
  const bool tied = model->config().tie_word_embeddings;
  auto params = model->named_parameters(/*recurse=*/true);
  for (const auto& [name, t] : tensors) {
    if (params.contains(name) || ignorable_key(name)) continue;
    if (tied && name == "lm_head.weight") {
      LOG_WARN(origin, ": tie_word_embeddings is true; ignoring the stored lm_head.weight "
               "(the logits use model.embed_tokens.weight)");
      continue;
    }
    POPO_FAIL(origin, ": unexpected tensor '", name, "' with shape ", shape_string(t.sizes()),
              " (no such parameter in a ", model->config().model_type, " model with this config.json)");
  }
  for (auto& item : params) {
    auto it = tensors.find(item.key());
    POPO_CHECK(it != tensors.end(), origin, ": missing tensor '", item.key(), "' (expected shape ",
               shape_string(item.value().sizes()), ")");
    POPO_CHECK(it->second.sizes() == item.value().sizes(), origin, ": tensor '", item.key(),
               "' has shape ", shape_string(it->second.sizes()), ", expected ", shape_string(item.value().sizes()));
    item.value().copy_(it->second);
  }
}

std::string model_config_dir(const std::string& dir) {
  if (path_exists(path_join(dir, "config.json")) || !is_lora_adapter_folder(dir)) return dir;
  return lora_base_model_path(dir);
}

std::string model_tokenizer_path(const std::string& dir) {
  const std::string own = path_join(dir, "tokenizer.json");
  return path_exists(own) ? own : path_join(model_config_dir(dir), "tokenizer.json");
}

CausalLM load_model(const std::string& dir, c10::ScalarType dtype, c10::Device device) {
  POPO_CHECK(path_exists(dir), "model folder '", dir, "' does not exist");
  const std::string config_path = path_join(dir, "config.json");
  if (!path_exists(config_path) && is_lora_adapter_folder(dir)) {
    // A PEFT adapter folder: its base model, then the adapters on it.
    const std::string base = lora_base_model_path(dir);
    POPO_CHECK(path_exists(path_join(base, "config.json")), dir, "/adapter_config.json: the base model folder '",
               base, "' (base_model_name_or_path) has no config.json; point it at the base model, or write a "
               "merged model with `popo export --merge`");
    CausalLM model = load_model(base, dtype, device);
    model->lora = load_lora_adapter(dir, model->config(), device);
    return model;
  }
  POPO_CHECK(path_exists(config_path), "model folder '", dir, "' has no config.json");
  ModelConfig cfg = ModelConfig::from_file(config_path);
  CausalLM model(cfg);
  model->to(dtype);
  auto tensors = read_safetensors_dir(dir);
  const std::string origin = path_exists(path_join(dir, "model.safetensors"))
                                 ? path_join(dir, "model.safetensors")
                                 : path_join(dir, "model.safetensors.index.json");
  load_weights(model, tensors, origin);
  tensors.clear();
  model->to(device);
  model->eval();
  return model;
}

void save_model(CausalLM& model, const std::string& dir) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& item : model->named_parameters(/*recurse=*/true)) {
    tensors.emplace_back(item.key(), item.value());
  }
  POPO_CHECK(!tensors.empty(), "save_model: the model has no parameters");
  write_safetensors(path_join(dir, "model.safetensors"), tensors, {{"format", "pt"}});
  nlohmann::json j = model->config().to_json();
  const std::string dt = dtype_name(model->dtype());
  j["torch_dtype"] = dt;  // transformers 4
  j["dtype"] = dt;        // transformers 5
  write_file_atomic(path_join(dir, "config.json"), j.dump(2) + "\n");
}

CausalLM make_random_model(const ModelConfig& cfg, uint64_t seed) {
  CausalLM model(cfg);
  torch::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (auto& item : model->named_parameters(/*recurse=*/true)) {
    const std::string& name = item.key();
    auto& p = item.value();
    const bool is_norm = name.find("norm.weight") != std::string::npos;
    const bool is_bias = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    if (is_norm) {
      p.fill_(1.0);
    } else if (is_bias) {
      p.zero_();
    } else {
      p.normal_(/*mean=*/0.0, /*std=*/0.02, gen);
    }
  }
  model->eval();
  return model;
}

void copy_weights(CausalLM& dst, const CausalLM& src) {
  torch::NoGradGuard no_grad;
  auto dparams = dst->named_parameters(/*recurse=*/true);
  auto sparams = src->named_parameters(/*recurse=*/true);
  POPO_CHECK(dparams.size() == sparams.size(), "copy_weights: destination has ", dparams.size(),
             " parameters, source has ", sparams.size());
  for (auto& item : dparams) {
    const at::Tensor* s = sparams.find(item.key());
    POPO_CHECK(s != nullptr, "copy_weights: source has no parameter '", item.key(), "'");
    POPO_CHECK(s->sizes() == item.value().sizes(), "copy_weights: '", item.key(), "' has shape ",
               shape_string(s->sizes()), " in the source, ", shape_string(item.value().sizes()), " in the destination");
    item.value().copy_(*s);
  }
}

}  // namespace popo
