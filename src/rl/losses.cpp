// Loss functions of the PG path and the POPO path; see losses.h for the aggregation formulas.
#include "rl/losses.h"

#include <torch/torch.h>

#include "core/config.h"
#include "core/error.h"

namespace popo {
namespace {

// Returns x where mask > 0 and exactly 0 elsewhere (no NaN leaks from padded positions).
torch::Tensor masked(const torch::Tensor& x, const torch::Tensor& mask) {
  return torch::where(mask > 0, x, torch::zeros_like(x));  // (n, R)
}

// Returns the step share of the aggregation of per_token (n, R) under mode (losses.h table).
torch::Tensor aggregate(const torch::Tensor& per_token, const torch::Tensor& mask,
                        LossAgg mode, const StepNormalizers& norm) {
  torch::Tensor tok = masked(per_token, mask);  // (n, R)
  if (mode == LossAgg::kSeqMeanTokenMean) {
    POPO_CHECK(norm.num_seqs > 0, "loss: seq-mean-token-mean needs StepNormalizers.num_seqs > 0");
    torch::Tensor seq = tok.sum(/*dim=*/1) / mask.sum(/*dim=*/1).clamp_min(1.0);  // (n)
    return seq.sum() / norm.num_seqs;
  }
  if (mode == LossAgg::kTokenMean) {
    POPO_CHECK(norm.num_tokens > 0, "loss: token-mean needs StepNormalizers.num_tokens > 0");
    return tok.sum() / norm.num_tokens;
  }
  if (mode == LossAgg::kSeqMeanTokenSumNorm) {
    POPO_CHECK(norm.num_seqs > 0 && norm.max_len > 0,
               "loss: seq-mean-token-sum-norm needs num_seqs > 0 and max_len > 0, got ",
               norm.num_seqs, " and ", norm.max_len);
    return tok.sum() / (norm.num_seqs * norm.max_len);
  }
  POPO_FAIL("loss: grpo.loss_agg value ", static_cast<int>(mode), " out of range");
}

// Returns the masked token sum of x over the step's tokens as a double share.
double token_share(const torch::Tensor& x, const torch::Tensor& mask, double total) {
  if (total <= 0) return 0.0;
  return masked(x.detach().to(torch::kDouble), mask).sum().item<double>() / total;
}

void check_inputs(const LossInputs& in, const char* who) {
  TORCH_CHECK(in.logp.defined() && in.logp.dim() == 2, who, ": logp must be (n, R), got ",
              in.logp.defined() ? in.logp.sizes() : torch::IntArrayRef{});
  TORCH_CHECK(in.mask.defined() && in.mask.sizes() == in.logp.sizes(), who,
              ": mask must be (n, R) like logp ", in.logp.sizes());
  TORCH_CHECK(in.coef.defined() && in.coef.dim() == 1 && in.coef.size(0) == in.logp.size(0), who,
              ": coef must be (n) with n = ", in.logp.size(0));
  for (const torch::Tensor* t : {&in.logp_old, &in.logp_ref, &in.entropy}) {
    TORCH_CHECK(!t->defined() || t->sizes() == in.logp.sizes(), who,
                ": logp_old / logp_ref / entropy must be (n, R) like logp ", in.logp.sizes(),
                ", got ", t->sizes());
  }
}

}  // namespace

torch::Tensor masked_mean_pool(const torch::Tensor& hidden, const torch::Tensor& mask) {
  TORCH_CHECK(hidden.dim() == 3 && mask.dim() == 2 && hidden.size(0) == mask.size(0) &&
                  hidden.size(1) == mask.size(1),
              "masked_mean_pool: hidden must be (n, R, C) and mask (n, R), got ", hidden.sizes(),
              " and ", mask.sizes());
  const c10::ScalarType ft = hidden.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
  torch::Tensor h = hidden.to(ft);                                   // (n, R, C)
  torch::Tensor m = mask.to(ft).unsqueeze(2);                        // (n, R, 1)
  return (h * m).sum(/*dim=*/1) / m.sum(/*dim=*/1).clamp_min(1.0);   // (n, C)
}

torch::Tensor k3_per_token(const torch::Tensor& logp_p, const torch::Tensor& logp_q) {
  torch::Tensor d = logp_q - logp_p;  // (n, R) log q/p
  return torch::exp(d) - d - 1.0;     // (n, R) q/p - log(q/p) - 1 >= 0
}

torch::Tensor k3_kl(const torch::Tensor& logp_p, const torch::Tensor& logp_q,
                    const torch::Tensor& mask) {
  torch::Tensor m = mask.to(torch::kFloat);  // (n, R)
  return masked(k3_per_token(logp_p, logp_q), m).sum() / m.sum().clamp_min(1.0);  // ()
}

LossResult policy_gradient_loss(const LossInputs& in, const GrpoConfig& cfg,
                                const StepNormalizers& norm) {
  check_inputs(in, "policy_gradient_loss");
  LossResult out;
  torch::Tensor m = in.mask.to(torch::kFloat);                                     // (n, R)
  torch::Tensor adv = in.coef.detach().to(torch::kFloat).unsqueeze(1);             // (n, 1)
  torch::Tensor old = in.logp_old.defined() ? in.logp_old.detach() : in.logp.detach();  // (n, R)
  // rho = pi_theta / pi_old per token; the surrogate keeps the pessimistic of the two terms.
  torch::Tensor ratio = torch::exp(in.logp - old);                                  // (n, R)
  torch::Tensor clipped = torch::clamp(ratio, 1.0 - cfg.clip_low, 1.0 + cfg.clip_high);
  torch::Tensor pg = -torch::min(ratio * adv, clipped * adv);                       // (n, R)
  torch::Tensor per_token = pg;
  torch::Tensor kl;
  if (cfg.kl_coef > 0) {
    TORCH_CHECK(in.logp_ref.defined(), "policy_gradient_loss: grpo.kl_coef = ", cfg.kl_coef,
                " > 0 needs logp_ref");
    kl = k3_per_token(in.logp, in.logp_ref.detach());  // (n, R) KL(pi_theta || pi_ref) per token
    per_token = per_token + cfg.kl_coef * kl;
  }
  out.loss = aggregate(per_token, m, cfg.loss_agg, norm);  // ()
  note_config_read({"grpo.clip_low", "grpo.clip_high", "grpo.kl_coef", "grpo.loss_agg"});

  // Metrics, token-means over the step (TRL's clip_ratio/low_mean and high_mean).
  torch::NoGradGuard no_grad;
  out.metrics["grpo/pg_loss"] = aggregate(pg.detach(), m, cfg.loss_agg, norm).item<double>();
  if (kl.defined()) out.metrics["grpo/kl_loss"] = token_share(kl, m, norm.num_tokens);
  torch::Tensor low = ((ratio < 1.0 - cfg.clip_low) & (adv < 0)).to(torch::kFloat);   // (n, R)
  torch::Tensor high = ((ratio > 1.0 + cfg.clip_high) & (adv > 0)).to(torch::kFloat);  // (n, R)
  out.metrics["grpo/clip_frac_low"] = token_share(low, m, norm.num_tokens);
  out.metrics["grpo/clip_frac_high"] = token_share(high, m, norm.num_tokens);
  out.metrics["grpo/approx_kl"] = token_share(k3_per_token(old, in.logp.detach()), m, norm.num_tokens);
  return out;
}

LossResult popo_loss(const LossInputs& in, const PopoConfig& cfg, const StepNormalizers& norm) {
  check_inputs(in, "popo_loss");
  TORCH_CHECK(in.positive.defined() && in.positive.dim() == 1 &&
                  in.positive.size(0) == in.logp.size(0),
              "popo_loss: positive must be (n) bool with n = ", in.logp.size(0));
  LossResult out;
  // float32 in training; float64 end to end when the inputs are float64 (fixture test).
  const c10::ScalarType ft = in.logp.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
  torch::Tensor m = in.mask.to(ft);                                             // (n, R)
  torch::Tensor pos_idx = torch::nonzero(in.positive.to(torch::kBool)).reshape({-1});  // (n_pos)
  const int64_t n_pos = pos_idx.size(0);
  torch::Tensor w = in.coef.detach().to(ft).index_select(0, pos_idx);  // (n_pos)
  torch::Tensor zero = torch::zeros({}, in.logp.options().dtype(ft));  // ()

  // 1. Weighted NLL over the positives only; negatives' rows are never read, so they get
  //    exactly zero gradient from this term.
  torch::Tensor nll = zero;
  if (n_pos > 0 && norm.num_pos_tokens > 0) {
    torch::Tensor lp = in.logp.index_select(0, pos_idx);                   // (n_pos, R)
    torch::Tensor mp = m.index_select(0, pos_idx);                         // (n_pos, R)
    torch::Tensor seq_nll = masked(-lp, mp).sum(/*dim=*/1);                // (n_pos) sum_t -logp
    nll = (w * seq_nll).sum() / norm.num_pos_tokens;                       // ()
  }
  // 2. Bounded similarity: -sum w cos(h_phi(f_theta), sg(f_xi + eps)) / sum w.
  torch::Tensor sim = zero;
  if (cfg.sim_coef > 0 && n_pos > 0 && norm.sum_pos_weight > 0) {
    TORCH_CHECK(in.pred.defined() && in.target.defined() && in.pred.dim() == 2 &&
                    in.pred.size(0) == n_pos && in.target.sizes() == in.pred.sizes(),
                "popo_loss: pred and target must be (n_pos, C) with n_pos = ", n_pos);
    torch::Tensor cos = torch::cosine_similarity(in.pred.to(ft),
                                                 in.target.detach().to(ft),
                                                 /*dim=*/1, /*eps=*/1e-8);  // (n_pos)
    sim = -(w * cos).sum() / norm.sum_pos_weight;                            // ()
  }
  // 3. Entropy bonus over all response tokens, or over the positives' (entropy_on=positives).
  torch::Tensor ent = zero;
  torch::Tensor h, mh;  // entropy rows used and their mask
  if (in.entropy.defined()) {
    if (cfg.entropy_on == EntropyScope::kPositives) {
      h = in.entropy.index_select(0, pos_idx);  // (n_pos, R)
      mh = m.index_select(0, pos_idx);          // (n_pos, R)
    } else {
      h = in.entropy;  // (n, R)
      mh = m;
    }
  }
  if (cfg.entropy_coef > 0) {
    TORCH_CHECK(h.defined(), "popo_loss: popo.entropy_coef = ", cfg.entropy_coef,
                " > 0 needs the per-token entropy");
    if (norm.num_ent_tokens > 0) ent = -masked(h, mh).sum() / norm.num_ent_tokens;  // ()
  }
  out.loss = nll + cfg.sim_coef * sim + cfg.entropy_coef * ent;  // ()
  note_config_read({"popo.sim_coef", "popo.entropy_coef", "popo.entropy_on"});

  out.metrics["popo/nll_loss"] = nll.item<double>();
  out.metrics["popo/sim_loss"] = sim.item<double>();
  out.metrics["popo/ent_loss"] = ent.item<double>();
  if (h.defined()) out.metrics["entropy"] = token_share(h, mh, norm.num_ent_tokens);
  return out;
}

LossResult compute_loss(const AlgoConfig& cfg, const LossInputs& in, const StepNormalizers& norm) {
  // RAFT (POPO.md) is the positive path with uniform weights and alpha = beta = 0; its
  // coefficients are raft_weights(), so this is a weighted NLL on the positive tokens of the step.
  LossResult out = cfg.positive_path() ? popo_loss(in, cfg.loss_popo(), norm)
                                       : policy_gradient_loss(in, cfg.grpo, norm);
  out.metrics["loss"] = out.loss.item<double>();
  return out;
}

}  // namespace popo
