#include "model/layers.h"

#include <torch/torch.h>

#include <limits>

#include "model/kv_cache.h"

namespace popo {

namespace F = torch::nn::functional;

RMSNormImpl::RMSNormImpl(int64_t dim, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  const auto in_dtype = x.scalar_type();
  auto h = x.to(torch::kFloat);                                // (..., dim) fp32
  auto var = h.pow(2).mean(/*dim=*/-1, /*keepdim=*/true);      // (..., 1)
  h = h * torch::rsqrt(var + eps_);
  return weight * h.to(in_dtype);
}

std::pair<torch::Tensor, torch::Tensor> rope_cos_sin(const torch::Tensor& position_ids, int64_t head_dim,
                                                     double theta, c10::ScalarType dtype) {
  auto fopts = torch::TensorOptions().dtype(torch::kFloat).device(position_ids.device());
  auto exponents = torch::arange(0, head_dim, 2, fopts.dtype(torch::kLong)).to(torch::kFloat) /
                   static_cast<double>(head_dim);                         // (D/2)
  auto inv_freq = 1.0 / torch::pow(theta, exponents);                     // (D/2) fp32
  auto freqs = position_ids.to(torch::kFloat).unsqueeze(-1) * inv_freq;   // (B, T, D/2)
  auto emb = torch::cat({freqs, freqs}, /*dim=*/-1);                      // (B, T, D)
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  auto x1 = x.narrow(-1, 0, half);
  auto x2 = x.narrow(-1, half, half);
  auto rotated = torch::cat({-x2, x1}, /*dim=*/-1);  // (B, h, T, D)
  auto c = cos.unsqueeze(1);                         // (B, 1, T, D)
  auto s = sin.unsqueeze(1);
  return x * c + rotated * s;
}

torch::Tensor make_attention_bias(const torch::Tensor& attention_mask, int64_t past, int64_t T,
                                  c10::ScalarType dtype) {
  const int64_t B = attention_mask.size(0), S = attention_mask.size(1);
  TORCH_CHECK(S == past + T, "attention_mask covers ", S, " positions, expected cache ", past, " + new ", T);
  auto dev = attention_mask.device();
  auto key_ok = attention_mask.to(torch::kBool).view({B, 1, 1, S});                   // (B, 1, 1, S)
  auto q_pos = torch::arange(past, past + T, torch::TensorOptions().dtype(torch::kLong).device(dev));
  auto k_pos = torch::arange(0, S, torch::TensorOptions().dtype(torch::kLong).device(dev));
  auto causal = (k_pos.view({1, S}) <= q_pos.view({T, 1})).view({1, 1, T, S});        // (1, 1, T, S)
  auto allowed = causal.logical_and(key_ok);                                          // (B, 1, T, S)
  double lowest = dtype == torch::kBFloat16 ? -3.3895313892515355e38
                  : dtype == torch::kHalf   ? -65504.0
                  : dtype == torch::kDouble ? std::numeric_limits<double>::lowest()
                                            : static_cast<double>(std::numeric_limits<float>::lowest());
  auto zeros = torch::zeros({1}, torch::TensorOptions().dtype(dtype).device(dev));
  return torch::where(allowed, zeros, torch::full({1}, lowest, zeros.options()));
}

AttentionImpl::AttentionImpl(const ModelConfig& cfg, int64_t layer_idx)
    : layer_idx_(layer_idx),
      num_heads_(cfg.num_attention_heads),
      num_kv_heads_(cfg.num_key_value_heads),
      head_dim_(cfg.head_dim) {
  const int64_t C = cfg.hidden_size, H = num_heads_, Hkv = num_kv_heads_, D = head_dim_;
  const bool bias = cfg.attention_bias;
  q_proj = register_module("q_proj", torch::nn::Linear(torch::nn::LinearOptions(C, H * D).bias(bias)));
  k_proj = register_module("k_proj", torch::nn::Linear(torch::nn::LinearOptions(C, Hkv * D).bias(bias)));
  v_proj = register_module("v_proj", torch::nn::Linear(torch::nn::LinearOptions(C, Hkv * D).bias(bias)));
  o_proj = register_module("o_proj", torch::nn::Linear(torch::nn::LinearOptions(H * D, C).bias(cfg.has_o_proj_bias())));
  if (cfg.has_qk_norm()) {
    q_norm = register_module("q_norm", RMSNorm(D, cfg.rms_norm_eps));
    k_norm = register_module("k_norm", RMSNorm(D, cfg.rms_norm_eps));
  }
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                                     const torch::Tensor& bias, KVCache* cache, const LoraView& lora) {
  const int64_t B = x.size(0), T = x.size(1);
  const int64_t H = num_heads_, Hkv = num_kv_heads_, D = head_dim_, G = H / Hkv;
  auto q = lora_linear(q_proj, x, lora, kLoraQ).view({B, T, H, D});    // (B, T, H, D)
  auto k = lora_linear(k_proj, x, lora, kLoraK).view({B, T, Hkv, D});  // (B, T, Hkv, D)
  auto v = lora_linear(v_proj, x, lora, kLoraV).view({B, T, Hkv, D});  // (B, T, Hkv, D)
  if (!q_norm.is_empty()) {  // qwen3: RMSNorm over each head before rope
    q = q_norm->forward(q);
    k = k_norm->forward(k);
  }
  q = apply_rope(q.transpose(1, 2), cos, sin);       // (B, H, T, D)
  k = apply_rope(k.transpose(1, 2), cos, sin);       // (B, Hkv, T, D)
  v = v.transpose(1, 2);                             // (B, Hkv, T, D)
  if (cache != nullptr) std::tie(k, v) = cache->update(layer_idx_, k, v);  // (B, Hkv, S, D)
  const int64_t S = k.size(2);

  torch::Tensor out;  // (B, H, T, D)
#if TORCH_VERSION_MAJOR >= 2
  if (x.is_cuda()) {
    // Fused kernel on GPU; K/V repeated per query head (enable_gqa needs 2.5+).
    auto kr = G > 1 ? k.repeat_interleave(G, /*dim=*/1) : k;  // (B, H, S, D)
    auto vr = G > 1 ? v.repeat_interleave(G, /*dim=*/1) : v;
    out = at::scaled_dot_product_attention(q, kr, vr, bias, /*dropout_p=*/0.0, /*is_causal=*/false);
  }
#endif
  if (!out.defined()) {
    // Group the G query heads that share one K/V head so K/V need no copy:
    // q (B, Hkv, G*T, D) @ k^T (B, Hkv, D, S) -> (B, Hkv, G, T, S).
    auto qg = q.reshape({B, Hkv, G * T, D});
    auto scores = torch::matmul(qg, k.transpose(2, 3)).view({B, Hkv, G, T, S});
    scores = scores * (1.0 / std::sqrt(static_cast<double>(D)));
    scores = scores + bias.view({B, 1, 1, T, S});                          // (B, Hkv, G, T, S)
    auto probs = torch::softmax(scores, /*dim=*/-1, torch::kFloat).to(q.scalar_type());
    out = torch::matmul(probs.view({B, Hkv, G * T, S}), v).view({B, H, T, D});
  }
  out = out.transpose(1, 2).reshape({B, T, H * D});  // (B, T, H*D)
  return lora_linear(o_proj, out, lora, kLoraO);      // (B, T, C)
}

MlpImpl::MlpImpl(const ModelConfig& cfg) {
  const int64_t C = cfg.hidden_size, I = cfg.intermediate_size;
  gate_proj = register_module("gate_proj", torch::nn::Linear(torch::nn::LinearOptions(C, I).bias(false)));
  up_proj = register_module("up_proj", torch::nn::Linear(torch::nn::LinearOptions(C, I).bias(false)));
  down_proj = register_module("down_proj", torch::nn::Linear(torch::nn::LinearOptions(I, C).bias(false)));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x, const LoraView& lora) {
  auto h = F::silu(lora_linear(gate_proj, x, lora, kLoraGate)) * lora_linear(up_proj, x, lora, kLoraUp);  // (B, T, I)
  return lora_linear(down_proj, h, lora, kLoraDown);  // (B, T, C)
}

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& cfg, int64_t layer_idx) {
  input_layernorm = register_module("input_layernorm", RMSNorm(cfg.hidden_size, cfg.rms_norm_eps));
  self_attn = register_module("self_attn", Attention(cfg, layer_idx));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(cfg.hidden_size, cfg.rms_norm_eps));
  mlp = register_module("mlp", Mlp(cfg));
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                                        const torch::Tensor& bias, KVCache* cache, const LoraView& lora) {
  auto h = x + self_attn->forward(input_layernorm->forward(x), cos, sin, bias, cache, lora);  // (B, T, C)
  return h + mlp->forward(post_attention_layernorm->forward(h), lora);                        // (B, T, C)
}

}  // namespace popo
