// LoRA adapters on a CausalLM's projections, in Hugging Face PEFT's layout (model/lora_config.h
// has the equation and the init). The adapters are not registered in the model's module tree:
// CausalLMImpl::lora points at a LoraAdapters and the decoder layers add s * B A x to each
// adapted projection, so one frozen base can carry several adapter sets — the policy's trained
// adapters, the POPO siamese's EMA of them, or none (GRPO's reference) — without a copy of the
// base (share_base below).
//
// Adapters are float32 whatever the base dtype (PEFT's autocast_adapter_dtype): the adapter
// input is cast to fp32, and the adapted output y + s B A x is rounded to the base output's
// dtype. Dropout (lora.dropout) applies to the adapter input of forwards with grad enabled only
// (the loss forward), never to sampling, evaluation or the no-grad log-prob passes.
//
// Files (save_lora_adapter / load_lora_adapter): adapter_config.json + adapter_model.safetensors
// with PEFT's names, base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight (r, in) and
// ...lora_B.weight (out, r); `PeftModel.from_pretrained(base, dir)` loads them.
// Dims: r rank, C hidden, T tokens, in/out a projection's input/output width.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <torch/nn/modules/linear.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/causal_lm.h"
#include "model/lora_config.h"
#include "model/lora_pair.h"

namespace popo {

struct LoraAdapters {
  LoraConfig cfg;     // rank, alpha, dropout and the targeted module names
  double scale = 0;   // alpha / rank (PEFT's scaling)
  std::vector<std::array<LoraPair, kLoraModules>> layers;  // [layer][module]

  // Returns (PEFT name, tensor) of every adapter matrix: layer by layer, modules in
  // lora_module_names() order, A before B. The order of tensors() and of the optimizer state.
  std::vector<std::pair<std::string, at::Tensor>> named_tensors() const;
  std::vector<at::Tensor> tensors() const;
  // Returns the number of adapter parameters (sum of numel).
  int64_t numel() const;
};

// Returns the PEFT name of one adapter matrix: "base_model.model.model.layers.<layer>.
// <self_attn|mlp>.<module>.lora_<A|B>.weight".
std::string lora_tensor_name(int64_t layer, LoraModule module, bool is_b);

// Returns fresh adapters for a model of config mc: A Kaiming-uniform(a = sqrt(5)), i.e.
// U(-1/sqrt(in), 1/sqrt(in)) drawn on the CPU from a generator seeded with seed (the same on every
// rank and device), B zero; float32 on device with requires_grad.
std::shared_ptr<LoraAdapters> make_lora_adapters(const ModelConfig& mc, const LoraConfig& cfg, uint64_t seed,
                                                 c10::Device device);

// Returns a deep copy of a without gradients (the siamese network's EMA adapters).
std::shared_ptr<LoraAdapters> clone_lora_adapters(const LoraAdapters& a);

// Returns a new CausalLM over the same modules (and so the same parameter tensors) as src, with no
// adapters: the frozen base of a LoRA run seen as its own network (GRPO's reference, and the
// POPO siamese's base once it is given adapters). Costs no weight memory. src's gradient
// checkpointing and taps are not copied.
CausalLM share_base(const CausalLM& src);

// Returns the tensors that make network m what it is beyond a shared base: its adapters'
// (LoraAdapters::tensors() order) when it has adapters, else all its parameters. What a learner
// trains and what the siamese EMA updates.
std::vector<at::Tensor> own_tensors(const CausalLM& m);

// Attaches fresh adapters (make_lora_adapters) to model and freezes every base parameter
// (requires_grad false, so the base never gets a gradient or optimizer state).
void attach_lora(CausalLM& model, const LoraConfig& cfg, uint64_t seed);

// Folds the adapters into the base weights in place, W <- W + scale * B A (computed in float32,
// rounded once to W's dtype), and detaches them: the merged model's forward equals the adapted
// one (exactly up to that rounding). Changes every network that shares the base.
void merge_lora(CausalLM& model);

// Writes dir/adapter_model.safetensors (float32, PEFT names) and dir/adapter_config.json (PEFT
// LoraConfig fields; base_model_name_or_path = base_model_dir), each atomically.
void save_lora_adapter(const LoraAdapters& a, const std::string& dir, const std::string& base_model_dir);

// Returns the adapters in PEFT folder dir for a model of config mc, float32 on device, without
// gradients. The adapted projections are the lora_A/lora_B pairs present (so PEFT's
// layers_to_transform works); r and alpha come from adapter_config.json (use_rslora: alpha /
// sqrt(r)). Throws popo::Error naming the file and field on what popo does not implement
// (use_dora, bias other than "none", fan_in_fan_out, modules_to_save, rank_pattern /
// alpha_pattern), an unknown tensor, a missing half of a pair, or a shape that does not match mc.
std::shared_ptr<LoraAdapters> load_lora_adapter(const std::string& dir, const ModelConfig& mc, c10::Device device);

// Returns base_model_name_or_path of the PEFT folder dir (resolved against dir when relative).
std::string lora_base_model_path(const std::string& dir);

// Returns true when dir is a PEFT adapter folder (has adapter_config.json).
bool is_lora_adapter_folder(const std::string& dir);

}  // namespace popo
