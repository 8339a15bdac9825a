#include "model/causal_lm.h"

#include <torch/torch.h>

#include "core/error.h"
#include "model/grad_checkpoint.h"
#include "model/lora.h"

namespace popo {

DecoderModelImpl::DecoderModelImpl(const ModelConfig& cfg) {
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(cfg.vocab_size, cfg.hidden_size));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t l = 0; l < cfg.num_hidden_layers; ++l) layers->push_back(DecoderLayer(cfg, l));
  norm = register_module("norm", RMSNorm(cfg.hidden_size, cfg.rms_norm_eps));
}

CausalLMImpl::CausalLMImpl(const ModelConfig& cfg) : cfg_(cfg) {
  model = register_module("model", DecoderModel(cfg));
  // Tied: the logits reuse model.embed_tokens.weight and there is no lm_head parameter at all,
  // exactly as the safetensors of a tied HF checkpoint has no lm_head.weight.
  if (!cfg.tie_word_embeddings) {
    lm_head_ = register_module(
        "lm_head", torch::nn::Linear(torch::nn::LinearOptions(cfg.hidden_size, cfg.vocab_size).bias(false)));
  }
}

CausalLMImpl::CausalLMImpl(const ModelConfig& cfg, DecoderModel shared_model, torch::nn::Linear shared_lm_head)
    : cfg_(cfg) {
  model = register_module("model", std::move(shared_model));
  POPO_CHECK(cfg.tie_word_embeddings == shared_lm_head.is_empty(), "CausalLM: tie_word_embeddings is ",
             cfg.tie_word_embeddings, " but an lm_head was ", shared_lm_head.is_empty() ? "not " : "", "given");
  if (!cfg.tie_word_embeddings) lm_head_ = register_module("lm_head", std::move(shared_lm_head));
}

c10::Device CausalLMImpl::device() const { return model->embed_tokens->weight.device(); }
c10::ScalarType CausalLMImpl::dtype() const { return model->embed_tokens->weight.scalar_type(); }

KVCache CausalLMImpl::make_cache(int64_t batch, int64_t max_len) const {
  return KVCache(cfg_.num_hidden_layers, batch, cfg_.num_key_value_heads, max_len, cfg_.head_dim, dtype(),
                 device());
}

torch::Tensor CausalLMImpl::forward_hidden(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                           KVCache* cache) {
  TORCH_CHECK(input_ids.dim() == 2, "input_ids must be (B, T), got ", input_ids.sizes());
  const int64_t B = input_ids.size(0), T = input_ids.size(1);
  const int64_t past = cache != nullptr ? cache->length() : 0;
  const auto dev = device();
  torch::Tensor mask = attention_mask.defined()
                           ? attention_mask.to(dev, torch::kLong)
                           : torch::ones({B, past + T}, torch::TensorOptions().dtype(torch::kLong).device(dev));
  TORCH_CHECK(mask.dim() == 2 && mask.size(0) == B && mask.size(1) == past + T, "attention_mask must be (",
              B, ", ", past + T, ") covering ", past, " cached + ", T, " new positions, got ", mask.sizes());
  if (cache != nullptr) {
    POPO_CHECK(cache->batch() == B, "KV cache has ", cache->batch(), " rows, input_ids has ", B);
  }
  // HF: position_ids = cumsum(attention_mask) - 1 (pads clamped at 0), the new tokens' slice.
  auto positions = (mask.cumsum(/*dim=*/1) - 1).clamp_min(0).narrow(1, past, T);  // (B, T)
  auto [cos, sin] = rope_cos_sin(positions, cfg_.head_dim, cfg_.rope_theta, dtype());  // (B, T, D)
  auto bias = make_attention_bias(mask, past, T, dtype());                             // (B, 1, T, S)

  auto x = model->embed_tokens->forward(input_ids.to(dev));  // (B, T, C)
  const bool recompute = gradient_checkpointing && cache == nullptr && torch::GradMode::is_enabled();
  // Adapter dropout acts in forwards with grad only (the loss forward), decided here since a
  // checkpointed layer runs its forward with grad off; its masks are random, so the
  // recomputation replays the generator's state.
  const bool random_layers = lora != nullptr && lora->cfg.dropout > 0 && torch::GradMode::is_enabled();
  for (size_t l = 0; l < model->layers->size(); ++l) {
    auto layer = model->layers->ptr<DecoderLayerImpl>(l);
    LoraView view;
    if (lora != nullptr) view = {lora->layers.at(l).data(), lora->scale, random_layers ? lora->cfg.dropout : 0.0};
    if (recompute) {
      // cos, sin, bias need no gradient: the closure may hold them (grad_checkpoint.h); the
      // adapters are kept alive by this network while backward runs.
      x = checkpoint_forward([layer, cos, sin, bias, view](const torch::Tensor& h) {
            return layer->forward(h, cos, sin, bias, /*cache=*/nullptr, view);
          }, x, random_layers);  // (B, T, C)
    } else {
      x = layer->forward(x, cos, sin, bias, cache, view);  // (B, T, C)
    }
    if (tap) tap("layer_out", static_cast<int64_t>(l), x);
  }
  if (cache != nullptr) cache->advance(T);
  x = model->norm->forward(x);  // (B, T, C)
  if (tap) tap("norm", -1, x);
  return x;
}

torch::Tensor CausalLMImpl::lm_head(const torch::Tensor& hidden) {
  if (cfg_.tie_word_embeddings) return torch::nn::functional::linear(hidden, model->embed_tokens->weight);
  return lm_head_->forward(hidden);  // (..., V)
}

torch::Tensor CausalLMImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                    KVCache* cache) {
  return lm_head(forward_hidden(input_ids, attention_mask, cache));  // (B, T, V)
}

}  // namespace popo
