// popo's POPO loss, weights, pooling, predictor and EMA against the POPO reference code's own
// numbers (tests/fixtures/popo-reference, README there): case A (one micro-batch) within 1e-9 in
// float64 (1e-6 for the float32 uniform weights), case B (3 micro-batches) by popo's step-global
// shares — the documented difference from the reference's per-micro-batch normalisation — and
// case C (one EMA update in f64 / f32 / bf16, and what fp32 masters change in bf16).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "model/safetensors.h"
#include "rl/advantages.h"
#include "rl/losses.h"
#include "rl/momentum.h"
#include "rl/predictor.h"
#include "torch_test_util.h"

namespace popo {
namespace {

using test::tensors_close;

constexpr int64_t kG = 4;
constexpr double kTol = 1e-9;

class ReferenceFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = test::fixture_path("popo-reference/cases.safetensors");
    ASSERT_TRUE(std::filesystem::exists(path)) << "missing fixture " << path;
    t_ = read_safetensors(path);
    const torch::Tensor coef = at("in.coef");  // alpha, beta, tau, sigma, tau_r
    alpha_ = coef[0].item<double>();
    beta_ = coef[1].item<double>();
    tau_ = coef[2].item<double>();
    sigma_ = coef[3].item<double>();
  }
  torch::Tensor at(const std::string& name) {
    auto it = t_.find(name);
    EXPECT_NE(it, t_.end()) << "fixture tensor " << name << " missing";
    return it == t_.end() ? torch::Tensor() : it->second;
  }
  double scalar(const std::string& name) { return at(name).item<double>(); }

  // Returns the predictor of the fixture (D 16, H 32, 2 layers) in float64 with its weights.
  Predictor predictor() {
    Predictor p(16, 32, 2);
    p->to(torch::kDouble);
    torch::NoGradGuard ng;
    for (auto& kv : p->named_parameters()) kv.value().copy_(at("in.predictor." + kv.key()));
    return p;
  }

  std::map<std::string, torch::Tensor> t_;
  double alpha_ = 0, beta_ = 0, tau_ = 0, sigma_ = 0;
};

// The leaves of one forward of popo's loss over the rows `rows` (in that order) of the fixture.
struct Pass {
  torch::Tensor logp, entropy, hidden;  // leaves with grad, (12, 8), (12, 8), (12, 8, 16)
  Predictor pred{nullptr};
};

PopoConfig popo_cfg(double alpha, double beta) {
  PopoConfig c;
  c.sim_coef = alpha;
  c.entropy_coef = beta;
  c.entropy_on = EntropyScope::kAll;
  return c;
}

TEST_F(ReferenceFixture, CaseAWeightsFeaturesLossAndGradientsMatch) {
  const torch::Tensor rewards = at("in.rewards"), mask = at("in.completion_mask");
  // 1. Weights from the length-normalised log-probs.
  const torch::Tensor seq = sequence_mean_logp(at("in.per_token_logps"), mask);  // (12)
  EXPECT_TRUE(tensors_close(seq, at("out.seq_logps"), kTol));
  const torch::Tensor w = popo_weights(rewards, seq, kG, /*temperature=*/1.0, /*uniform=*/false);
  EXPECT_EQ(w.scalar_type(), torch::kDouble);
  EXPECT_TRUE(tensors_close(w, at("out.weights"), kTol));
  // uniform weights are float32 in popo and in the reference
  EXPECT_TRUE(tensors_close(popo_weights(rewards, seq, kG, 1.0, /*uniform=*/true),
                            at("out.weights_uniform"), 1e-6));

  // 2. Features, predictor, noisy target.
  torch::Tensor logp = at("in.per_token_logps").clone().requires_grad_(true);
  torch::Tensor ent = at("in.entropies").clone().requires_grad_(true);
  torch::Tensor hid = at("in.online_hidden").clone().requires_grad_(true);
  Predictor pred = predictor();
  torch::Tensor f_theta = masked_mean_pool(hid, mask);  // (12, 16)
  f_theta.retain_grad();
  EXPECT_TRUE(tensors_close(f_theta, at("out.online_features"), kTol));
  const torch::Tensor f_xi = masked_mean_pool(at("in.target_hidden"), mask);  // (12, 16)
  EXPECT_TRUE(tensors_close(f_xi, at("out.target_features"), kTol));
  const torch::Tensor target = f_xi + sigma_ * at("in.noise_z");  // (12, 16) f_xi + eps
  EXPECT_TRUE(tensors_close(target, at("out.noisy_target_features"), kTol));
  torch::Tensor h = pred->forward(f_theta);  // (12, 16)
  h.retain_grad();
  EXPECT_EQ(h.scalar_type(), torch::kDouble);
  EXPECT_TRUE(tensors_close(h, at("out.predicted_features"), kTol));

  // 3. popo's loss on the whole step: positives' rows of pred / target, global normalisers.
  const torch::Tensor positive = rewards > 0;
  const torch::Tensor pos_idx = torch::nonzero(positive).reshape({-1});
  LossInputs in;
  in.logp = logp;
  in.entropy = ent;
  in.mask = mask;
  in.coef = w;
  in.positive = positive;
  in.pred = h.index_select(0, pos_idx);
  in.target = target.index_select(0, pos_idx);
  StepNormalizers norm;
  norm.num_seqs = 12;
  norm.num_tokens = mask.sum().item<double>();
  norm.num_pos_tokens = mask.index({positive}).sum().item<double>();
  norm.num_pos_seqs = positive.sum().item<double>();
  norm.sum_pos_weight = w.index({positive}).sum().item<double>();
  norm.num_ent_tokens = norm.num_tokens;
  LossResult r = popo_loss(in, popo_cfg(alpha_, beta_), norm);
  EXPECT_EQ(r.loss.scalar_type(), torch::kDouble);
  EXPECT_NEAR(r.metrics.at("popo/nll_loss"), scalar("out.nll_loss"), kTol);
  EXPECT_NEAR(r.metrics.at("popo/sim_loss"), scalar("out.sim_loss"), kTol);
  EXPECT_NEAR(r.metrics.at("popo/ent_loss"), scalar("out.ent_loss"), kTol);
  EXPECT_NEAR(r.metrics.at("entropy"), scalar("out.entropy"), kTol);
  EXPECT_NEAR(r.loss.item<double>(), scalar("out.loss"), kTol);
  EXPECT_NEAR(r.loss.item<double>(), 0.24207135207472938, kTol);  // the README's number
  EXPECT_NEAR(k3_kl(logp.detach(), at("in.target_logps"), mask).item<double>(),
              scalar("out.kl_divergence"), kTol);

  // 4. Gradients.
  r.loss.backward();
  EXPECT_TRUE(tensors_close(logp.grad(), at("grad.per_token_logps"), kTol));
  EXPECT_TRUE(tensors_close(ent.grad(), at("grad.entropies"), kTol));
  EXPECT_TRUE(tensors_close(hid.grad(), at("grad.online_hidden"), kTol));
  EXPECT_TRUE(tensors_close(f_theta.grad(), at("grad.online_features"), kTol));
  EXPECT_TRUE(tensors_close(h.grad(), at("grad.predicted_features"), kTol));
  for (auto& kv : pred->named_parameters())
    EXPECT_TRUE(tensors_close(kv.value().grad(), at("grad.predictor." + kv.key()), kTol)) << kv.key();
}

TEST_F(ReferenceFixture, CaseBStepGlobalSharesSumToCaseAWhereTheReferenceDoesNot) {
  const torch::Tensor rewards = at("in.rewards"), mask = at("in.completion_mask");
  const torch::Tensor w = at("out.weights"), cos = at("out.cos_sim");
  const torch::Tensor logp0 = at("in.per_token_logps"), ent0 = at("in.entropies");
  const torch::Tensor positive = rewards > 0;
  const double n_tok = mask.sum().item<double>();
  const double n_pos_tok = mask.index({positive}).sum().item<double>();
  const double w_sum = w.index({positive}).sum().item<double>();
  StepNormalizers norm;
  norm.num_seqs = 12;
  norm.num_tokens = n_tok;
  norm.num_pos_tokens = n_pos_tok;
  norm.num_pos_seqs = positive.sum().item<double>();
  norm.sum_pos_weight = w_sum;
  norm.num_ent_tokens = n_tok;

  torch::Tensor logp = logp0.clone().requires_grad_(true);
  torch::Tensor ent = ent0.clone().requires_grad_(true);
  torch::Tensor hid = at("in.online_hidden").clone().requires_grad_(true);
  Predictor pred = predictor();
  const torch::Tensor perm = at("in.mb_perm");  // (3, 4)
  const torch::Tensor ref_loss = at("mb.out.loss");
  double total = 0;
  for (int64_t k = 0; k < 3; ++k) {
    const torch::Tensor rows = perm[k];  // (4)
    const torch::Tensor m = mask.index_select(0, rows), pos = positive.index_select(0, rows);
    const torch::Tensor pl = torch::nonzero(pos).reshape({-1});
    LossInputs in;
    in.logp = logp.index_select(0, rows);
    in.entropy = ent.index_select(0, rows);
    in.mask = m;
    in.coef = w.index_select(0, rows);
    in.positive = pos;
    torch::Tensor h = pred->forward(masked_mean_pool(hid.index_select(0, rows), m));  // (4, 16)
    torch::Tensor tgt = masked_mean_pool(at("in.target_hidden").index_select(0, rows), m) +
                        sigma_ * at("in.noise_z").index_select(0, rows);
    in.pred = h.index_select(0, pl);
    in.target = tgt.index_select(0, pl);
    LossResult r = popo_loss(in, popo_cfg(alpha_, beta_), norm);
    r.loss.backward();

    // Expected share, written out from the fixture's case-A intermediates:
    //   nll_k = sum_{b in k, pos} w_b sum_t -logp_bt m_bt / N+(step)
    //   sim_k = -sum_{b in k} w_b cos_b / sum w(step)
    //   ent_k = -sum_{b in k} sum_t H_bt m_bt / N_tokens(step)
    const torch::Tensor wk = w.index_select(0, rows);
    const double nll_k =
        (wk.unsqueeze(1) * -logp0.index_select(0, rows) * m).sum().item<double>() / n_pos_tok;
    const double sim_k = -(wk * cos.index_select(0, rows)).sum().item<double>() / w_sum;
    const double ent_k = -(ent0.index_select(0, rows) * m).sum().item<double>() / n_tok;
    const double want = nll_k + alpha_ * sim_k + beta_ * ent_k;
    EXPECT_NEAR(r.loss.item<double>(), want, kTol) << "micro-batch " << k;
    // The reference normalises per micro-batch and divides by 3: a different number.
    EXPECT_GT(std::abs(r.loss.item<double>() - ref_loss[k].item<double>()), 1e-3) << k;
    total += r.loss.item<double>();
    if (k == 1) {
      // No positive in micro-batch 1: the reference returns (-)0; popo keeps its entropy share.
      EXPECT_EQ(pos.sum().item<int64_t>(), 0);
      EXPECT_EQ(ref_loss[k].item<double>(), 0.0);
      EXPECT_NEAR(r.loss.item<double>(), beta_ * ent_k, kTol);
      EXPECT_LT(r.loss.item<double>(), -1e-4);
    }
  }
  // popo: the shares add up to the case-A loss and the gradients to the case-A gradients (the
  // split does not matter); the reference's micro-batch sum and gradients differ.
  EXPECT_NEAR(total, scalar("out.loss"), kTol);
  EXPECT_GT(std::abs(ref_loss.sum().item<double>() - scalar("out.loss")), 1e-2);
  EXPECT_TRUE(tensors_close(logp.grad(), at("grad.per_token_logps"), kTol));
  EXPECT_TRUE(tensors_close(ent.grad(), at("grad.entropies"), kTol));
  EXPECT_TRUE(tensors_close(hid.grad(), at("grad.online_hidden"), kTol));
  for (auto& kv : pred->named_parameters())
    EXPECT_TRUE(tensors_close(kv.value().grad(), at("grad.predictor." + kv.key()), kTol)) << kv.key();
  EXPECT_FALSE(tensors_close(at("mb.grad.entropies"), at("grad.entropies"), 1e-6));
}

TEST_F(ReferenceFixture, CaseCEmaInEachDtypeAndWhatFp32MastersChange) {
  // f64 and f32: popo's update is the reference's two roundings, bit for bit.
  for (const std::string d : {"f64", "f32", "bf16", "bf16_close"}) {
    std::vector<torch::Tensor> xi = {at("ema." + d + ".xi.w").clone(), at("ema." + d + ".xi.b").clone()};
    const std::vector<torch::Tensor> theta = {at("ema." + d + ".theta.w"), at("ema." + d + ".theta.b")};
    ema_update_tensors(xi, theta, tau_);
    EXPECT_TRUE(torch::equal(xi[0], at("ema." + d + ".result.w"))) << d;
    EXPECT_TRUE(torch::equal(xi[1], at("ema." + d + ".result.b"))) << d;
  }
  // bf16 with fp32 masters (popo's siamese): the master holds tau xi + (1 - tau) theta in fp32
  // and the bf16 weights are one rounding of it, which differs from the reference's bf16 result
  // in 1 of the 15 entries (README).
  int64_t differ = 0;
  for (const std::string part : {"w", "b"}) {
    const torch::Tensor xi = at("ema.bf16.xi." + part), theta = at("ema.bf16.theta." + part);
    std::vector<torch::Tensor> master = {xi.to(torch::kFloat)};
    ema_update_tensors(master, {theta.to(torch::kFloat)}, tau_);
    const torch::Tensor exact = tau_ * xi.to(torch::kDouble) + (1 - tau_) * theta.to(torch::kDouble);
    EXPECT_TRUE(tensors_close(master[0], exact, 1e-6)) << part;
    EXPECT_TRUE(torch::equal(master[0].to(torch::kBFloat16), exact.to(torch::kBFloat16))) << part;
    differ += (master[0].to(torch::kBFloat16) != at("ema.bf16.result." + part)).sum().item<int64_t>();
  }
  EXPECT_EQ(differ, 1);
  // bf16_close: the reference's update is a no-op; the fp32 master still moves toward theta, so
  // repeated updates accumulate instead of rounding away.
  const torch::Tensor xi = at("ema.bf16_close.xi.w"), theta = at("ema.bf16_close.theta.w");
  EXPECT_TRUE(torch::equal(at("ema.bf16_close.result.w"), xi));
  std::vector<torch::Tensor> master = {xi.to(torch::kFloat)};
  ema_update_tensors(master, {theta.to(torch::kFloat)}, tau_);
  EXPECT_GT((master[0] != xi.to(torch::kFloat)).sum().item<int64_t>(), 0);
  std::vector<torch::Tensor> bf = {xi.clone()};
  for (int i = 0; i < 1000; ++i) {
    ema_update_tensors(master, {theta.to(torch::kFloat)}, tau_);
    ema_update_tensors(bf, {theta}, tau_);
  }
  EXPECT_TRUE(torch::equal(bf[0], xi));  // frozen at xi_0, as the reference's siamese
  const double gap0 = (theta.to(torch::kDouble) - xi.to(torch::kDouble)).abs().sum().item<double>();
  const double gap = (theta.to(torch::kDouble) - master[0].to(torch::kDouble)).abs().sum().item<double>();
  EXPECT_LT(gap, 0.01 * gap0);  // the master closed > 99% of the gap
}

}  // namespace
}  // namespace popo
