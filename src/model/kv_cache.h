// KVCache: preallocated per-layer keys and values (B, Hkv, S_max, D) for incremental decoding,
// the current length S shared by all rows, and row operations for the sampler (keep a subset of
// rows, repeat each row G times after a shared prefill). Mirrors HF's StaticCache layout; what
// it does not do: per-row lengths (left padding + the attention mask cover ragged prompts).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace popo {

class KVCache {
 public:
  KVCache() = default;
  // Allocates zeroed (B, Hkv, S_max, D) keys and values for each of num_layers layers.
  KVCache(int64_t num_layers, int64_t batch, int64_t num_kv_heads, int64_t max_len, int64_t head_dim,
          c10::ScalarType dtype, c10::Device device);

  int64_t num_layers() const { return static_cast<int64_t>(keys_.size()); }
  int64_t batch() const { return batch_; }
  int64_t max_len() const { return max_len_; }
  // Returns the number of positions already stored (S_past).
  int64_t length() const { return length_; }

  // Writes k, v (B, Hkv, T, D) at positions [length, length + T) of layer and returns views of
  // the layer's keys and values over [0, length + T): (B, Hkv, S_past + T, D) each. The length
  // itself moves only on advance(T), once all layers have been written.
  std::pair<at::Tensor, at::Tensor> update(int64_t layer, const at::Tensor& k, const at::Tensor& v);
  // Moves the length forward by t positions.
  void advance(int64_t t);
  // Keeps the rows in index (int64, any length), in that order: batch becomes index.numel().
  void select_rows(const at::Tensor& index);
  // Repeats every row g times in place of the row (row i -> rows i*g .. i*g+g-1).
  void repeat_interleave_rows(int64_t g);
  // Sets the length to 0 (storage kept).
  void reset() { length_ = 0; }

  const at::Tensor& keys(int64_t layer) const { return keys_.at(layer); }
  const at::Tensor& values(int64_t layer) const { return values_.at(layer); }

 private:
  std::vector<at::Tensor> keys_, values_;  // per layer (B, Hkv, S_max, D)
  int64_t batch_ = 0, max_len_ = 0, length_ = 0;
};

}  // namespace popo
