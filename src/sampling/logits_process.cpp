#include "sampling/logits_process.h"

#include <torch/torch.h>

#include <limits>

#include "core/error.h"

namespace popo {

at::Tensor apply_temperature(const at::Tensor& logits, double temperature) {
  POPO_CHECK(temperature > 0.0, "temperature must be > 0 here, got ", temperature);
  return logits / temperature;  // (..., V)
}

at::Tensor apply_top_k(const at::Tensor& logits, int64_t k) {
  POPO_CHECK(k >= 0, "top_k must be >= 0, got ", k);
  const int64_t V = logits.size(-1);
  if (k == 0 || k >= V) return logits;
  auto kth = std::get<0>(logits.topk(k, /*dim=*/-1)).narrow(-1, k - 1, 1);  // (..., 1)
  return logits.masked_fill(logits < kth, -std::numeric_limits<float>::infinity());
}

at::Tensor apply_top_p(const at::Tensor& logits, double p) {
  POPO_CHECK(p > 0.0 && p <= 1.0, "top_p must be in (0, 1], got ", p);
  if (p >= 1.0) return logits;
  auto [sorted, order] = logits.sort(/*dim=*/-1, /*descending=*/false);       // (..., V) ascending
  auto cum = torch::softmax(sorted, -1, torch::kFloat).cumsum(-1);            // (..., V)
  auto remove_sorted = cum <= (1.0 - p);                                       // (..., V)
  remove_sorted.narrow(-1, remove_sorted.size(-1) - 1, 1).fill_(false);        // keep the top token
  auto remove = remove_sorted.scatter(-1, order, remove_sorted);               // back to vocab order
  return logits.masked_fill(remove, -std::numeric_limits<float>::infinity());
}

at::Tensor log_softmax_f32(const at::Tensor& logits) {
  return torch::log_softmax(logits, /*dim=*/-1, torch::kFloat);
}

}  // namespace popo
