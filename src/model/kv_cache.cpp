#include "model/kv_cache.h"

#include <torch/torch.h>

#include "core/error.h"

namespace popo {

KVCache::KVCache(int64_t num_layers, int64_t batch, int64_t num_kv_heads, int64_t max_len,
                 int64_t head_dim, c10::ScalarType dtype, c10::Device device)
    : batch_(batch), max_len_(max_len) {
  POPO_CHECK(batch > 0 && max_len > 0, "KVCache: batch (", batch, ") and max_len (", max_len,
             ") must be positive");
  auto opts = torch::TensorOptions().dtype(dtype).device(device);
  for (int64_t l = 0; l < num_layers; ++l) {
    keys_.push_back(torch::zeros({batch, num_kv_heads, max_len, head_dim}, opts));
    values_.push_back(torch::zeros({batch, num_kv_heads, max_len, head_dim}, opts));
  }
}

std::pair<at::Tensor, at::Tensor> KVCache::update(int64_t layer, const at::Tensor& k, const at::Tensor& v) {
  TORCH_CHECK(layer >= 0 && layer < num_layers(), "KVCache: layer ", layer, " out of range");
  const int64_t T = k.size(2);
  TORCH_CHECK(k.size(0) == batch_, "KVCache: batch ", k.size(0), " != cache batch ", batch_);
  POPO_CHECK(length_ + T <= max_len_, "KVCache: ", length_, " + ", T, " positions exceed the cache length ",
             max_len_);
  at::Tensor& K = keys_[layer];    // (B, Hkv, S_max, D)
  at::Tensor& V = values_[layer];  // (B, Hkv, S_max, D)
  K.narrow(2, length_, T).copy_(k);
  V.narrow(2, length_, T).copy_(v);
  return {K.narrow(2, 0, length_ + T), V.narrow(2, 0, length_ + T)};
}

void KVCache::advance(int64_t t) {
  POPO_CHECK(length_ + t <= max_len_, "KVCache: length ", length_ + t, " exceeds ", max_len_);
  length_ += t;
}

void KVCache::select_rows(const at::Tensor& index) {
  auto idx = index.to(torch::kLong);
  if (!keys_.empty()) idx = idx.to(keys_[0].device());
  for (auto& k : keys_) k = k.index_select(0, idx);
  for (auto& v : values_) v = v.index_select(0, idx);
  batch_ = idx.numel();
}

void KVCache::repeat_interleave_rows(int64_t g) {
  POPO_CHECK(g >= 1, "KVCache: repeat count must be >= 1, got ", g);
  if (g == 1) return;
  for (auto& k : keys_) k = k.repeat_interleave(g, /*dim=*/0);
  for (auto& v : values_) v = v.repeat_interleave(g, /*dim=*/0);
  batch_ *= g;
}

}  // namespace popo
