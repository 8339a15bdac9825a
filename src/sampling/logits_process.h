// Pure logits transforms for sampling, tensor in -> tensor out, each on the last dimension of
// (..., V) float logits: temperature, top-k, top-p (nucleus). Filtered-out entries become -inf.
// Mirrors transformers' TemperatureLogitsWarper, TopKLogitsWarper and TopPLogitsWarper
// (min_tokens_to_keep = 1), applied in HF's order: temperature, top-k, top-p.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace popo {

// Returns logits / temperature; temperature must be > 0 (0 means greedy and is handled by the
// caller).
at::Tensor apply_temperature(const at::Tensor& logits, double temperature);
// Returns logits with every entry below the k-th largest of its row set to -inf (ties with the
// k-th value kept). k = 0 or k >= V returns logits unchanged.
at::Tensor apply_top_k(const at::Tensor& logits, int64_t k);
// Returns logits keeping the smallest set of top entries whose probability mass reaches p (HF:
// sort ascending, drop entries while cumulative probability <= 1 - p; the top token always kept).
// p = 1 returns logits unchanged.
at::Tensor apply_top_p(const at::Tensor& logits, double p);
// Returns log_softmax over the last dimension computed in float32.
at::Tensor log_softmax_f32(const at::Tensor& logits);

}  // namespace popo
