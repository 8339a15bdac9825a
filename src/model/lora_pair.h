// The per-layer view of LoRA adapters the decoder layers read (model/lora.h has the rest): which
// projections are adapted, with what scale and dropout. Kept apart from lora.h so layers.h does
// not depend on CausalLM.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/linear.h>

namespace popo {

// The adaptable projections in lora_module_names() order.
enum LoraModule : int { kLoraQ, kLoraK, kLoraV, kLoraO, kLoraGate, kLoraUp, kLoraDown, kLoraModules };

// One projection's adapter: A (r, in) and B (out, r), float32; undefined = not adapted.
struct LoraPair {
  at::Tensor A, B;
  bool defined() const { return A.defined(); }
};

// One decoder layer's adapters: pairs[kLoraModules] or null (no adapters).
struct LoraView {
  const LoraPair* pairs = nullptr;
  double scale = 0;    // alpha / rank
  double dropout = 0;  // on the adapter input (CausalLM sets it in forwards with grad mode on only)
};

// Returns lin(x) + scale * B A dropout(x) when view adapts module m, in lin(x)'s dtype (x is cast
// to B's dtype for the adapter product); lin(x) otherwise.
at::Tensor lora_linear(const torch::nn::Linear& lin, const at::Tensor& x, const LoraView& view, LoraModule m);

}  // namespace popo
