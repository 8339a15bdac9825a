// The decoder building blocks with Hugging Face module names: RMSNorm (fp32 statistics), rotary
// embedding (default rope), grouped-query attention with optional q/k/v bias and per-head q/k
// RMSNorm, SwiGLU MLP, and the pre-norm decoder layer. Mirrors transformers' modeling_qwen2.py,
// modeling_qwen3.py and modeling_llama.py (eager attention path), step for step.
//
// Dims: B batch, T new tokens, S keys (cache + new), H heads, Hkv key/value heads, G = H / Hkv,
// D head dim, C hidden, I intermediate.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

#include "model/config.h"
#include "model/lora_pair.h"

namespace popo {

class KVCache;

// y = w * (x / sqrt(mean(x^2) + eps)) with the statistics in float32 (HF Qwen2RMSNorm).
class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);
  // x (..., dim) -> (..., dim) in x's dtype
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

// Returns cos and sin (B, T, D) in dtype for position ids (B, T) int64 (default rope:
// inv_freq = 1 / theta^(2i/D), computed in float32 as HF does).
std::pair<torch::Tensor, torch::Tensor> rope_cos_sin(const torch::Tensor& position_ids, int64_t head_dim,
                                                     double theta, c10::ScalarType dtype);

// Returns x * cos + rotate_half(x) * sin for x (B, h, T, D), cos/sin (B, T, D).
torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

// Returns the additive attention bias (B, 1, T, S_past + T) in dtype: 0 where query t may see key
// s (s <= S_past + t and attention_mask[b, s] == 1), the dtype's lowest finite value elsewhere,
// so a fully masked (pad) query row gives a uniform softmax, never NaN.
torch::Tensor make_attention_bias(const torch::Tensor& attention_mask, int64_t past, int64_t T,
                                  c10::ScalarType dtype);

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(const ModelConfig& cfg, int64_t layer_idx);
  // x (B, T, C), cos/sin (B, T, D), bias (B, 1, T, S) -> (B, T, C). With a cache the new keys and
  // values are written at the cache's current length and attention covers the whole prefix.
  // lora: the layer's adapters of q/k/v/o_proj (none by default).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& bias, KVCache* cache, const LoraView& lora = {});

  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  RMSNorm q_norm{nullptr}, k_norm{nullptr};  // qwen3 only

 private:
  int64_t layer_idx_, num_heads_, num_kv_heads_, head_dim_;
};
TORCH_MODULE(Attention);

// down_proj(silu(gate_proj(x)) * up_proj(x))
class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(const ModelConfig& cfg);
  // (B, T, C) -> (B, T, C); lora: the layer's adapters of gate/up/down_proj (none by default)
  torch::Tensor forward(const torch::Tensor& x, const LoraView& lora = {});
  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Mlp);

// x + attn(norm(x)), then + mlp(norm(.)). One layer's forward is one call, so gradient
// checkpointing can wrap it later.
class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const ModelConfig& cfg, int64_t layer_idx);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& bias, KVCache* cache,
                        const LoraView& lora = {});  // (B, T, C) -> (B, T, C)
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  Attention self_attn{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(DecoderLayer);

}  // namespace popo
