// Per-token log p(target) and entropy of softmax(logits / temperature) straight from the final
// hidden states and the LM head weight, by chunks of tokens, so that the (tokens x V) fp32
// logits never exist at once: forward keeps one chunk's logits at a time; backward (a custom
// autograd Function) recomputes each chunk's logits from the saved hidden states and weight.
// Memory beyond the inputs: O(chunk_tokens x V) fp32 in forward and in backward, plus the
// gradients of hidden (n, T, C) and weight (V, C). Logits are computed in the input dtype and
// upcast to fp32 (as HF's `logits.float()`); softmax, log-prob and entropy are fp32.
// Mirrors TRL's selective_log_softmax + entropy_from_logits, without the full logits tensor.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace popo {

struct TokenStats {
  at::Tensor logp;     // (n, T) float32 log softmax(logits / temperature)[target]
  at::Tensor entropy;  // (n, T) float32 entropy of softmax(logits / temperature); undefined
                       // unless with_entropy
};

// Returns per-token log-probs (and entropies) with autograd to hidden and lm_head_weight.
// hidden: (n, T, C) final hidden states (after the final norm); lm_head_weight: (V, C) same
// dtype and device; targets: (n, T) int64 token ids in [0, V); temperature > 0;
// chunk_tokens >= 1 tokens per chunk (n*T tokens are processed in ceil(n*T / chunk) chunks).
// Double backward is not supported.
TokenStats token_logprobs(const at::Tensor& hidden, const at::Tensor& lm_head_weight,
                          const at::Tensor& targets, double temperature, bool with_entropy,
                          int64_t chunk_tokens);

}  // namespace popo
