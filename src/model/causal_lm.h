// CausalLMImpl: model.embed_tokens -> model.layers.N -> model.norm -> lm_head, registered under the
// Hugging Face names so named_parameters() keys equal the safetensors keys. Left padding is
// handled by the attention mask (positions = cumsum(mask) - 1, clamped at 0, as HF generate
// does); a KVCache makes decoding incremental. Mirrors transformers' Qwen2ForCausalLM /
// Qwen3ForCausalLM / LlamaForCausalLM forward. Gradient checkpointing per decoder layer is a
// runtime switch (model/grad_checkpoint.h); dropout is not here.
//
// Dims: B batch, T new tokens, S_past cached positions, C hidden, V vocab.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "model/config.h"
#include "model/kv_cache.h"
#include "model/layers.h"

namespace popo {

struct LoraAdapters;  // model/lora.h

// The "model." part: embeddings, decoder layers, final norm.
class DecoderModelImpl : public torch::nn::Module {
 public:
  explicit DecoderModelImpl(const ModelConfig& cfg);
  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};
};
TORCH_MODULE(DecoderModel);

class CausalLMImpl : public torch::nn::Module {
 public:
  explicit CausalLMImpl(const ModelConfig& cfg);
  // A network over existing modules (model/lora.h share_base): its parameters are model's and
  // lm_head's own tensors, not copies. lm_head is null when cfg ties the embeddings.
  CausalLMImpl(const ModelConfig& cfg, DecoderModel model, torch::nn::Linear lm_head);

  // input_ids (B, T) int64; attention_mask (B, S_past + T) int64/bool, 1 = real, 0 = pad, covering
  // the cache and the new tokens (undefined = all ones); cache may be null and, when given, is
  // written at its current length and advanced by T.
  // Returns the final hidden states after model.norm: (B, T, C).
  torch::Tensor forward_hidden(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                               KVCache* cache = nullptr);
  // Returns the logits (..., V) of hidden (..., C), in hidden's dtype (the tied embedding matrix
  // when tie_word_embeddings).
  torch::Tensor lm_head(const torch::Tensor& hidden);
  // Returns the logits (B, T, V): lm_head(forward_hidden(...)).
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                        KVCache* cache = nullptr);

  const ModelConfig& config() const { return cfg_; }
  // Returns an empty cache for batch rows and max_len positions on the model's device and dtype.
  KVCache make_cache(int64_t batch, int64_t max_len) const;
  // Returns the device and dtype of the parameters.
  c10::Device device() const;
  c10::ScalarType dtype() const;

  // Debug tap: when set, called with (name, layer, tensor) after each layer ("layer_out") and
  // after the final norm ("norm", -1). Off (empty) by default.
  std::function<void(const std::string&, int64_t, const torch::Tensor&)> tap;

  // Gradient checkpointing: when true and grad mode is on (no KV cache), each decoder layer keeps
  // only its input and is recomputed in backward (HF gradient_checkpointing_enable()). Off by
  // default; a runtime option, not part of ModelConfig (not in config.json). Debug taps still fire.
  bool gradient_checkpointing = false;

  // LoRA adapters added to the decoder layers' projections (model/lora.h); null = none. Not
  // registered as submodules: parameters() is the base alone, and networks sharing one base
  // (share_base) each carry their own adapters or none.
  std::shared_ptr<LoraAdapters> lora;

  DecoderModel model{nullptr};
  torch::nn::Linear lm_head_{nullptr};  // registered as "lm_head"; null when tied

 private:
  ModelConfig cfg_;
};
TORCH_MODULE(CausalLM);

}  // namespace popo
