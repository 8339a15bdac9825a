// Chunked log-prob / entropy as a torch::autograd::Function. Per chunk of M tokens:
//   z = (h W^T).float() / T                      (M, V)
//   logp_all = log_softmax(z); p = exp(logp_all)
//   logp = logp_all[target]; H = -sum_v p logp_all
// Backward, with g_l and g_H the incoming gradients of logp and H:
//   dlogp/dz = onehot(target) - p;  dH/dz = -p (logp_all + H)
//   g_z = g_l (onehot - p) - g_H p (logp_all + H);  g_logits = g_z / T
//   g_h = g_logits W  (M, C);  g_W += g_logits^T h  (V, C)
#include "rl/token_logprobs.h"

#include <torch/torch.h>

#include <algorithm>

namespace popo {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct ChunkResult {
  torch::Tensor logp_all;  // (M, V) float32
  torch::Tensor logp;      // (M) float32
  torch::Tensor entropy;   // (M) float32
};

// Returns the fp32 log-softmax of one chunk and its target log-probs / entropies.
ChunkResult chunk_stats(const torch::Tensor& h, const torch::Tensor& w, const torch::Tensor& tgt,
                        double temperature) {
  ChunkResult r;
  torch::Tensor z = torch::mm(h, w.t()).to(torch::kFloat) / temperature;  // (M, V)
  r.logp_all = torch::log_softmax(z, /*dim=*/1);                           // (M, V)
  r.logp = r.logp_all.gather(/*dim=*/1, tgt.unsqueeze(1)).squeeze(1);     // (M)
  r.entropy = -(r.logp_all.exp() * r.logp_all).sum(/*dim=*/1);             // (M)
  return r;
}

class ChunkedTokenLogprobs : public torch::autograd::Function<ChunkedTokenLogprobs> {
 public:
  // hidden2d: (M_total, C); weight: (V, C); targets1d: (M_total) int64.
  static variable_list forward(AutogradContext* ctx, torch::Tensor hidden2d, torch::Tensor weight,
                               torch::Tensor targets1d, double temperature, bool with_entropy,
                               int64_t chunk) {
    const int64_t total = hidden2d.size(0);
    torch::Tensor logp = torch::empty({total}, hidden2d.options().dtype(torch::kFloat));  // (M)
    torch::Tensor ent = torch::zeros({total}, hidden2d.options().dtype(torch::kFloat));   // (M)
    for (int64_t s = 0; s < total; s += chunk) {
      const int64_t len = std::min(chunk, total - s);
      ChunkResult r = chunk_stats(hidden2d.narrow(0, s, len), weight, targets1d.narrow(0, s, len),
                                  temperature);
      logp.narrow(0, s, len).copy_(r.logp);
      if (with_entropy) ent.narrow(0, s, len).copy_(r.entropy);
    }
    ctx->save_for_backward({hidden2d, weight, targets1d});
    ctx->saved_data["temperature"] = temperature;
    ctx->saved_data["with_entropy"] = with_entropy;
    ctx->saved_data["chunk"] = chunk;
    if (!with_entropy) ctx->mark_non_differentiable({ent});
    return {logp, ent};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    torch::Tensor hidden2d = saved[0], weight = saved[1], targets1d = saved[2];
    const double temperature = ctx->saved_data["temperature"].toDouble();
    const bool with_entropy = ctx->saved_data["with_entropy"].toBool();
    const int64_t chunk = ctx->saved_data["chunk"].toInt();
    const int64_t total = hidden2d.size(0);
    torch::Tensor g_logp = grads[0];                                          // (M) or undefined
    torch::Tensor g_ent = with_entropy ? grads[1] : torch::Tensor();           // (M) or undefined
    torch::Tensor g_hidden = torch::zeros_like(hidden2d);                      // (M, C)
    torch::Tensor g_weight = torch::zeros(weight.sizes(), weight.options().dtype(torch::kFloat));
    for (int64_t s = 0; s < total; s += chunk) {
      const int64_t len = std::min(chunk, total - s);
      torch::Tensor h = hidden2d.narrow(0, s, len);   // (m, C)
      torch::Tensor tgt = targets1d.narrow(0, s, len);  // (m)
      ChunkResult r = chunk_stats(h, weight, tgt, temperature);
      torch::Tensor p = r.logp_all.exp();                      // (m, V)
      torch::Tensor g_z = torch::zeros_like(p);                // (m, V)
      if (g_logp.defined()) {
        torch::Tensor gl = g_logp.narrow(0, s, len).to(torch::kFloat).unsqueeze(1);  // (m, 1)
        g_z.sub_(p * gl);                                                          // -g_l p
        g_z.scatter_add_(/*dim=*/1, tgt.unsqueeze(1), gl);                          // +g_l onehot
      }
      if (g_ent.defined()) {
        torch::Tensor ge = g_ent.narrow(0, s, len).to(torch::kFloat).unsqueeze(1);  // (m, 1)
        g_z.sub_(ge * p * (r.logp_all + r.entropy.unsqueeze(1)));  // -g_H p (logp_all + H)
      }
      torch::Tensor g_logits = g_z / temperature;                                 // (m, V) fp32
      g_hidden.narrow(0, s, len).copy_(torch::mm(g_logits.to(weight.scalar_type()), weight));
      // In place: a (V, C) fp32 temporary per chunk would double the peak (545 MB at V 152k).
      g_weight.addmm_(g_logits.t(), h.to(torch::kFloat));                         // (V, C)
    }
    return {g_hidden, g_weight.to(weight.scalar_type()), torch::Tensor(), torch::Tensor(),
            torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

TokenStats token_logprobs(const torch::Tensor& hidden, const torch::Tensor& lm_head_weight,
                          const torch::Tensor& targets, double temperature, bool with_entropy,
                          int64_t chunk_tokens) {
  TORCH_CHECK(hidden.dim() == 3, "token_logprobs: hidden must be (n, T, C), got ", hidden.sizes());
  TORCH_CHECK(lm_head_weight.dim() == 2 && lm_head_weight.size(1) == hidden.size(2),
              "token_logprobs: lm_head_weight must be (V, C) with C = ", hidden.size(2), ", got ",
              lm_head_weight.sizes());
  TORCH_CHECK(targets.dim() == 2 && targets.size(0) == hidden.size(0) &&
                  targets.size(1) == hidden.size(1) && targets.scalar_type() == torch::kLong,
              "token_logprobs: targets must be (n, T) int64 matching hidden ", hidden.sizes(),
              ", got ", targets.sizes(), " ", targets.scalar_type());
  TORCH_CHECK(temperature > 0, "token_logprobs: temperature must be > 0, got ", temperature);
  TORCH_CHECK(chunk_tokens >= 1, "token_logprobs: chunk_tokens must be >= 1, got ", chunk_tokens);
  const int64_t n = hidden.size(0), t = hidden.size(1), c = hidden.size(2);
  torch::Tensor w = lm_head_weight.to(hidden.scalar_type());
  variable_list out = ChunkedTokenLogprobs::apply(hidden.reshape({n * t, c}), w,
                                                  targets.reshape({n * t}).contiguous(),
                                                  temperature, with_entropy, chunk_tokens);
  TokenStats stats;
  stats.logp = out[0].reshape({n, t});  // (n, T)
  if (with_entropy) stats.entropy = out[1].reshape({n, t});  // (n, T)
  return stats;
}

}  // namespace popo
