// Loading and saving CausalLM weights in the Hugging Face folder layout (config.json +
// model.safetensors or sharded model.safetensors.index.json): one loop over named_parameters()
// with strict missing / unexpected / shape checks. Also the random HF-style init and the explicit
// deep copy used for reference and momentum models. Mirrors transformers' from_pretrained /
// save_pretrained for these architectures (no sharded save: one model.safetensors).
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <map>
#include <string>

#include "model/causal_lm.h"

namespace popo {

// Returns the model in dir (config.json + model.safetensors[.index.json]) with parameters in dtype
// on device. Throws popo::Error naming the folder/file/tensor on a missing folder, a bad config,
// a missing or unexpected tensor (with its expected shape) or a shape mismatch (expected vs got).
// A PEFT adapter folder (adapter_config.json, no config.json; model/lora.h) loads as its base
// model (base_model_name_or_path) with the adapters attached.
CausalLM load_model(const std::string& dir, c10::ScalarType dtype, c10::Device device);

// Returns the folder with the config.json (and generation_config.json) of the model in dir: dir
// itself, or for a PEFT adapter folder its base model's folder.
std::string model_config_dir(const std::string& dir);
// Returns the tokenizer.json of the model in dir: dir's own, else (an adapter folder without
// one) its base model's.
std::string model_tokenizer_path(const std::string& dir);

// Copies tensors (name -> tensor, e.g. from read_safetensors_dir) into model's parameters with the
// same strict checks; origin names the source in errors. A tied model ignores lm_head.weight.
void load_weights(CausalLM& model, const std::map<std::string, at::Tensor>& tensors, const std::string& origin);

// Writes dir/model.safetensors (parameters in their own dtype) and dir/config.json (HF form with
// "torch_dtype"/"dtype"), each atomically, so transformers' from_pretrained can reload the folder.
void save_model(CausalLM& model, const std::string& dir);

// Returns a float32 CPU model with HF's init: Linear/Embedding weights N(0, 0.02), biases 0,
// norm weights 1, drawn from a generator seeded with seed.
CausalLM make_random_model(const ModelConfig& cfg, uint64_t seed);

// Copies every parameter of src into dst (deep copy, dtype/device of dst) under NoGradGuard;
// throws popo::Error if the parameter names or shapes differ.
void copy_weights(CausalLM& dst, const CausalLM& src);

}  // namespace popo
