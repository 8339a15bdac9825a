// Section `lora`: low-rank adapters on the policy's projections (Hu et al., 2021), named and
// initialised as Hugging Face PEFT's LoraConfig does: for each targeted Linear W (out x in),
//     y = W x + b + (alpha / r) * B A dropout(x),   A (r x in), B (out x r)
// with A Kaiming-uniform (a = sqrt(5), PEFT's init_lora_weights=True) and B zero, so step 0 equals
// the base model exactly. rank 0 turns LoRA off (full fine-tuning), as verl's lora_rank = 0.
// Torch-free on purpose; the adapters themselves are in model/lora.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace popo {

// The projections LoRA can target, named as PEFT's target_modules for Qwen2/Qwen3/Llama.
const std::vector<std::string>& lora_module_names();

struct LoraConfig {
  int64_t rank = 0;     // r; 0 = off (full fine-tuning)
  double alpha = 16;    // scaling alpha / r (verl's default lora_alpha)
  double dropout = 0;   // dropout on the adapter's input in the loss forward (PEFT lora_dropout)
  std::vector<std::string> target_modules = lora_module_names();  // PEFT's "all-linear" (no lm_head)

  bool enabled() const { return rank > 0; }
  double scaling() const { return alpha / double(rank); }

  template <class V>
  void visit_fields(V& v) {
    v("rank", rank, "LoRA rank r of the policy's adapters (0 = off: full fine-tuning)");
    v("alpha", alpha, "LoRA alpha: the adapters are scaled by alpha / rank");
    v("dropout", dropout, "dropout on the adapters' input in the loss forward (0 = none)");
    v("target_modules", target_modules,
      "projections that get adapters: q_proj k_proj v_proj o_proj gate_proj up_proj down_proj");
  }
};

// Throws popo::Error naming the key (lora.rank, lora.alpha, lora.dropout, lora.target_modules)
// and the value when cfg is out of range: rank < 0, alpha <= 0, dropout outside [0, 1), an
// unknown or repeated module name, or no module with rank > 0.
void validate(const LoraConfig& cfg);

}  // namespace popo
