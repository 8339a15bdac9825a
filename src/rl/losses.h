// The one loss interface of every algorithm: a per-rollout coefficient (advantage or weight) x a
// ratio/clip policy x an aggregation mode x a regulariser (POPO.md, "Baselines beside it").
//   - policy-gradient path (grpo, rloo, psr, nsr, w_reinforce): token-level clipped surrogate
//     -min(rho A, clip(rho, 1 - eps_low, 1 + eps_high) A), rho = exp(logp - logp_old), plus
//     beta * k3 KL to a frozen reference, aggregated by grpo.loss_agg (TRL / verl formulas);
//   - POPO path (popo, raft): L_NLL + alpha L_sim + beta L_ent exactly as POPO.md, Loss 2-4.
//     RAFT is this path with uniform weights and alpha = beta = 0 (a weighted NLL on positives).
// Split invariance: every divisor is a global count of the whole optimizer step (StepNormalizers),
// never of the micro-batch, so the sum of the micro-batch losses equals the full-batch loss
// whatever the split:
//   seq-mean-token-mean      sum_i (sum_t l_it m_it / sum_t m_it) / num_seqs(step)
//   token-mean               sum_i sum_t l_it m_it / num_tokens(step)
//   seq-mean-token-sum-norm  sum_i sum_t l_it m_it / (num_seqs(step) * max_len)   (constant)
//   POPO NLL                 sum_pos w_i sum_t -logp_it m_it / num_pos_tokens(step)
//   POPO sim                 -sum_pos w_i cos(p_i, sg(z_i)) / sum_pos_weight(step)
//   POPO ent                 -sum_t H_t m_t / num_ent_tokens(step)
// (The reference POPO code divides the NLL by the positive tokens of the micro-batch; we divide
// by those of the step so that the loss does not depend on the micro-batch size.)
// Metrics are additive shares too: summing a metric over the micro-batches of a step gives its
// step value (a token-mean metric is divided by the step's token count, and so on).
// Legend: n rollouts in the micro-batch, R response width, n_pos positives of the micro-batch,
// C feature width.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>

#include "rl/algo_config.h"

namespace popo {

// Global counts of the whole optimizer step (all micro-batches, all data-parallel ranks).
struct StepNormalizers {
  double num_seqs = 0;        // rollouts in the step
  double num_tokens = 0;      // response tokens (mask sum) of all rollouts
  double num_pos_tokens = 0;  // response tokens of the positive rollouts
  double num_pos_seqs = 0;    // positive rollouts (0: the POPO path's step loss is exactly 0)
  double sum_pos_weight = 0;  // sum of the POPO weights over the positives (prompts with a positive)
  double num_ent_tokens = 0;  // tokens the POPO entropy averages over (all or positives only)
  double max_len = 0;         // constant divisor of seq-mean-token-sum-norm
};

// One micro-batch. Tensors not needed by the algorithm may be left undefined.
struct LossInputs {
  // Floating tensors are float32 in training; float64 inputs are computed in float64 throughout
  // (the reference-fixture test).
  at::Tensor logp;      // (n, R) float32, with grad: log pi_theta(a_t) at the sampling temperature
  at::Tensor logp_old;  // (n, R) float32 or undefined (= logp detached, rho == 1 in value)
  at::Tensor logp_ref;  // (n, R) float32 frozen reference log-probs; read when grpo.kl_coef > 0
  at::Tensor entropy;   // (n, R) float32, with grad; read by POPO when entropy_coef > 0
  at::Tensor mask;      // (n, R) float32, 1 = response token
  at::Tensor coef;      // (n) float32 advantage (PG path) or positive-set weight (POPO path)
  at::Tensor positive;  // (n) bool, reward > 0; POPO path only
  at::Tensor pred;      // (n_pos, C) float32 h_phi(f_theta) of the positives in row order; POPO
  at::Tensor target;    // (n_pos, C) float32 f_xi + eps of the same positives (no grad)
};

struct LossResult {
  at::Tensor loss;                          // () float32 this micro-batch's share of the step loss
  std::map<std::string, double> metrics;  // additive shares, e.g. "popo/nll_loss"
};

// Returns the clipped-surrogate loss of the PG path. Metrics: "grpo/pg_loss", "grpo/kl_loss"
// (beta-free k3 mean), "grpo/clip_frac_low", "grpo/clip_frac_high", "grpo/approx_kl"
// (k3 of logp_old vs logp), all token-means over the step.
LossResult policy_gradient_loss(const LossInputs& in, const GrpoConfig& cfg,
                                const StepNormalizers& norm);
// Returns the POPO loss L_NLL + alpha L_sim + beta L_ent. Metrics: "popo/nll_loss",
// "popo/sim_loss", "popo/ent_loss" (unscaled terms), "entropy" (mean over the entropy tokens
// when entropy is given). Negative rollouts get exactly zero gradient from NLL and sim.
LossResult popo_loss(const LossInputs& in, const PopoConfig& cfg, const StepNormalizers& norm);
// Returns the loss of cfg.name: popo -> popo_loss; raft -> popo_loss with uniform weights and
// alpha = beta = 0; others -> policy_gradient_loss. Also adds "loss" to the metrics.
LossResult compute_loss(const AlgoConfig& cfg, const LossInputs& in, const StepNormalizers& norm);

// Returns the masked mean over the response positions of hidden (n, R, C) -> (n, C): f(s, a) of
// POPO.md (sum_t h_t m_t / max(sum_t m_t, 1), the reference's _masked_mean_pool). float64 input
// stays float64, anything else becomes float32. mask: (n, R) 1 = response token.
at::Tensor masked_mean_pool(const at::Tensor& hidden, const at::Tensor& mask);

// Returns the per-token k3 estimate of KL(pi_p || pi_q) from samples of p (n, R):
// exp(q - p) - (q - p) - 1 (>= 0). logp_p, logp_q: (n, R).
at::Tensor k3_per_token(const at::Tensor& logp_p, const at::Tensor& logp_q);
// Returns the masked mean over tokens of k3_per_token (a () tensor; 0 for an empty mask).
at::Tensor k3_kl(const at::Tensor& logp_p, const at::Tensor& logp_q, const at::Tensor& mask);

}  // namespace popo
