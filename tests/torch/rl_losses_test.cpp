// Loss checks: hand-computed values of each aggregation mode, the clip fractions, POPO's three
// terms; zero gradient through negatives; micro-batch invariance of every algorithm and
// aggregation mode on a toy differentiable policy; the implicit negative gradient of POPO.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "core/config.h"
#include "rl/advantages.h"
#include "rl/losses.h"
#include "rl/predictor.h"

namespace popo {
namespace {

constexpr double kLn2 = 0.69314718055994531;

// ---- hand-computed values -----------------------------------------------------------------

TEST(PolicyGradientLoss, AggregationModesOnHandComputedBatch) {
  // rho = 1 (logp_old = logp): per-token loss = -A. Row 0 (A = 1, 2 tokens) -> -1, -1;
  // row 1 (A = -3, 1 token) -> 3.
  LossInputs in;
  in.logp = torch::log(torch::tensor({{0.5f, 0.25f, 0.9f}, {0.5f, 0.9f, 0.9f}}));
  in.mask = torch::tensor({{1.0f, 1.0f, 0.0f}, {1.0f, 0.0f, 0.0f}});
  in.coef = torch::tensor({1.0f, -3.0f});
  StepNormalizers norm;
  norm.num_seqs = 2;
  norm.num_tokens = 3;
  norm.max_len = 4;
  struct Case {
    const char* mode;
    double num_seqs;
    double want;
  };
  const std::vector<Case> cases = {
      {"seq-mean-token-mean", 2, (-1.0 + 3.0) / 2},  // mean of per-seq token-means
      {"seq-mean-token-mean", 4, (-1.0 + 3.0) / 4},  // same rows, step of 4 sequences
      {"token-mean", 2, (-1.0 - 1.0 + 3.0) / 3},     // / 3 step tokens
      {"seq-mean-token-sum-norm", 2, 1.0 / (2 * 4)},  // / (num seqs * max len)
  };
  for (const Case& c : cases) {
    GrpoConfig cfg;
    cfg.loss_agg = parse_enum<LossAgg>(c.mode, "grpo.loss_agg");
    norm.num_seqs = c.num_seqs;
    EXPECT_NEAR(policy_gradient_loss(in, cfg, norm).loss.item<double>(), c.want, 1e-6) << c.mode;
  }
}

TEST(PolicyGradientLoss, ClipFractionsAndClippedGradients) {
  // logp_old = 0, so rho = exp(logp). Row 0 A = +1: rho 1.5 clipped high; row 1 A = -1: rho 0.7
  // clipped low; rho 1.3 with A < 0 and rho 0.5 with A > 0 are not clipped (min keeps them).
  torch::Tensor rho = torch::tensor({{1.5f, 0.5f, 1.0f}, {0.7f, 1.3f, 1.0f}});
  torch::Tensor logp = torch::log(rho).requires_grad_(true);
  LossInputs in;
  in.logp = logp;
  in.logp_old = torch::zeros({2, 3});
  in.mask = torch::ones({2, 3});
  in.coef = torch::tensor({1.0f, -1.0f});
  GrpoConfig cfg;
  cfg.loss_agg = LossAgg::kTokenMean;
  StepNormalizers norm;
  norm.num_seqs = 2;
  norm.num_tokens = 6;
  LossResult r = policy_gradient_loss(in, cfg, norm);
  // per token: -1.2, -0.5, -1 | 0.8, 1.3, 1 -> 0.4 / 6.
  EXPECT_NEAR(r.loss.item<double>(), 0.4 / 6, 1e-6);
  EXPECT_NEAR(r.metrics.at("grpo/clip_frac_low"), 1.0 / 6, 1e-9);
  EXPECT_NEAR(r.metrics.at("grpo/clip_frac_high"), 1.0 / 6, 1e-9);
  r.loss.backward();
  // d/dlogp of -rho A / 6 = -A rho / 6 where unclipped, 0 where clipped.
  torch::Tensor want = torch::tensor({{0.0f, -0.5f / 6, -1.0f / 6}, {0.0f, 1.3f / 6, 1.0f / 6}});
  EXPECT_TRUE(torch::allclose(logp.grad(), want, 1e-6, 1e-7)) << logp.grad();
}

TEST(PolicyGradientLoss, K3KlToReference) {
  // logp = ln 0.5, ref = ln 0.25: k3 = exp(ln 0.5) - ln 0.5 - 1 = 0.5 + ln 2 - 1.
  const double k3 = 0.5 + kLn2 - 1.0;
  LossInputs in;
  in.logp = torch::full({1, 2}, std::log(0.5));
  in.logp_ref = torch::full({1, 2}, std::log(0.25));
  in.mask = torch::ones({1, 2});
  in.coef = torch::zeros({1});
  GrpoConfig cfg;
  cfg.kl_coef = 0.1;
  StepNormalizers norm;
  norm.num_seqs = 1;
  norm.num_tokens = 2;
  LossResult r = policy_gradient_loss(in, cfg, norm);
  EXPECT_NEAR(r.loss.item<double>(), 0.1 * k3, 1e-6);
  EXPECT_NEAR(r.metrics.at("grpo/kl_loss"), k3, 1e-6);
  EXPECT_NEAR(k3_kl(in.logp, in.logp_ref, in.mask).item<double>(), k3, 1e-6);
}

// The POPO micro-batch of the hand computation: rows 0, 1 positive (w 0.75, 0.25), row 2 negative.
struct PopoCase {
  torch::Tensor logp, entropy, pred;
  LossInputs in;
  StepNormalizers norm;
  PopoCase() {
    logp = torch::log(torch::tensor({{0.5f, 0.5f}, {0.25f, 0.9f}, {0.1f, 0.1f}})).requires_grad_(true);
    entropy = torch::tensor({{1.0f, 2.0f}, {3.0f, 9.0f}, {4.0f, 5.0f}}).requires_grad_(true);
    pred = torch::tensor({{1.0f, 0.0f}, {0.0f, 1.0f}}).requires_grad_(true);
    in.logp = logp;
    in.entropy = entropy;
    in.pred = pred;
    in.target = torch::tensor({{1.0f, 1.0f}, {1.0f, 0.0f}});
    in.mask = torch::tensor({{1.0f, 1.0f}, {1.0f, 0.0f}, {1.0f, 1.0f}});
    in.coef = torch::tensor({0.75f, 0.25f, 0.0f});
    in.positive = torch::tensor({true, true, false});
    norm.num_seqs = 3;
    norm.num_tokens = 5;
    norm.num_pos_tokens = 3;
    norm.sum_pos_weight = 1;
    norm.num_ent_tokens = 5;
  }
};

TEST(PopoLoss, ThreeTermsMatchHandComputation) {
  PopoCase c;
  PopoConfig cfg;  // alpha 0.1, beta 0.01, entropy on all tokens
  LossResult r = popo_loss(c.in, cfg, c.norm);
  // NLL = (0.75 * 2 ln 2 + 0.25 * ln 4) / 3 positive tokens = 2 ln 2 / 3.
  const double nll = 2 * kLn2 / 3;
  // sim = -(0.75 cos((1,0),(1,1)) + 0.25 cos((0,1),(1,0))) / 1 = -0.75 / sqrt 2.
  const double sim = -0.75 / std::sqrt(2.0);
  // ent = -(1 + 2 + 3 + 4 + 5) / 5 tokens = -3.
  const double ent = -3.0;
  EXPECT_NEAR(r.metrics.at("popo/nll_loss"), nll, 1e-6);
  EXPECT_NEAR(r.metrics.at("popo/sim_loss"), sim, 1e-6);
  EXPECT_NEAR(r.metrics.at("popo/ent_loss"), ent, 1e-6);
  EXPECT_NEAR(r.metrics.at("entropy"), 3.0, 1e-6);
  EXPECT_NEAR(r.loss.item<double>(), nll + 0.1 * sim + 0.01 * ent, 1e-6);

  // entropy_on = positives: -(1 + 2 + 3) / 3 positive tokens.
  cfg.entropy_on = EntropyScope::kPositives;
  c.norm.num_ent_tokens = 3;
  EXPECT_NEAR(popo_loss(c.in, cfg, c.norm).metrics.at("popo/ent_loss"), -2.0, 1e-6);
}

TEST(PopoLoss, NegativeRolloutsGetExactlyZeroGradientFromNllAndSim) {
  PopoCase c;
  PopoConfig cfg;
  cfg.entropy_on = EntropyScope::kPositives;
  c.norm.num_ent_tokens = 3;
  popo_loss(c.in, cfg, c.norm).loss.backward();
  torch::Tensor g = c.logp.grad();
  EXPECT_EQ(g[2][0].item<float>(), 0.0f);
  EXPECT_EQ(g[2][1].item<float>(), 0.0f);
  EXPECT_EQ(c.entropy.grad()[2].abs().sum().item<float>(), 0.0f);
  // positives: d NLL / d logp = -w / 3; padded token of row 1 gets 0.
  EXPECT_NEAR(g[0][0].item<double>(), -0.75 / 3, 1e-7);
  EXPECT_NEAR(g[1][0].item<double>(), -0.25 / 3, 1e-7);
  EXPECT_EQ(g[1][1].item<float>(), 0.0f);
  // entropy over all tokens is the one term that reaches negatives: -beta / 5 per token.
  PopoCase d;
  PopoConfig all;
  popo_loss(d.in, all, d.norm).loss.backward();
  EXPECT_EQ(d.logp.grad()[2].abs().sum().item<float>(), 0.0f);
  EXPECT_NEAR(d.entropy.grad()[2][0].item<double>(), -0.01 / 5, 1e-9);
}

TEST(PopoLoss, BatchWithoutPositiveGivesFiniteZero) {
  PopoCase c;
  c.in.positive = torch::tensor({false, false, false});
  c.in.coef = torch::zeros({3});
  c.in.pred = torch::zeros({0, 2});
  c.in.target = torch::zeros({0, 2});
  c.norm.num_pos_tokens = 0;
  c.norm.sum_pos_weight = 0;
  PopoConfig cfg;
  cfg.entropy_coef = 0;
  LossResult r = popo_loss(c.in, cfg, c.norm);
  EXPECT_EQ(r.loss.item<double>(), 0.0);
}

// ---- toy policy: logits of token t depend on the previous token only ----------------------

constexpr int64_t kV = 5, kC = 3, kR = 4;

struct ToyPolicy {
  torch::Tensor table;  // (V, V) logits of the next token given the previous token
  torch::Tensor embed;  // (V, C) features of the response tokens
  Predictor predictor{kC, 6, 2};
  ToyPolicy() {
    torch::manual_seed(7);
    table = (torch::randn({kV, kV}) * 0.5).requires_grad_(true);
    embed = torch::randn({kV, kC}).requires_grad_(true);
    predictor = Predictor(kC, 6, 2);
  }
  std::vector<torch::Tensor> params() {
    std::vector<torch::Tensor> p = {table, embed};
    for (auto& q : predictor->parameters()) p.push_back(q);
    return p;
  }
  void zero_grad() {
    for (auto& p : params())
      if (p.grad().defined()) p.grad().zero_();
  }
  // prev: (n) prompt's last token; resp: (n, R). Returns logp and entropy (n, R).
  std::pair<torch::Tensor, torch::Tensor> logp(const torch::Tensor& prev, const torch::Tensor& resp) {
    torch::Tensor ctx = torch::cat({prev.unsqueeze(1), resp.narrow(1, 0, kR - 1)}, 1);  // (n, R)
    torch::Tensor lsm = torch::log_softmax(table.index_select(0, ctx.reshape({-1})) / 0.9, 1);
    torch::Tensor lp = lsm.gather(1, resp.reshape({-1, 1})).reshape(resp.sizes());
    torch::Tensor h = -(lsm.exp() * lsm).sum(1).reshape(resp.sizes());
    return {lp, h};
  }
};

struct ToyBatch {
  torch::Tensor prev, resp, mask, rewards, logp_old, logp_ref, target;
  int64_t group_size = 4;
  ToyBatch() {
    torch::manual_seed(11);
    const int64_t n = 8;
    prev = torch::randint(kV, {n}, torch::kLong);
    resp = torch::randint(kV, {n, kR}, torch::kLong);
    torch::Tensor len = torch::tensor({4, 1, 3, 2, 4, 4, 2, 3});
    mask = (torch::arange(kR).unsqueeze(0) < len.unsqueeze(1)).to(torch::kFloat);
    rewards = torch::tensor({1.0f, 0.0f, 1.0f, 0.0f, 0.0f, 1.0f, 1.0f, 1.0f});
    logp_old = -torch::rand({n, kR}) * 2;
    logp_ref = -torch::rand({n, kR}) * 2;
    target = torch::randn({n, kC});
  }
};

// Returns the gradients (flattened, concatenated) and the summed loss after splitting the batch
// into num_micro equal micro-batches with step-global normalisers.
std::pair<torch::Tensor, double> run_split(const AlgoConfig& cfg, ToyPolicy& pol, const ToyBatch& b,
                                           int64_t num_micro) {
  pol.zero_grad();
  const int64_t n = b.resp.size(0);
  torch::Tensor pos = b.rewards > 0;
  // coefficients once per batch from the current policy (no grad).
  torch::Tensor seq_logp;
  {
    torch::NoGradGuard ng;
    seq_logp = sequence_mean_logp(pol.logp(b.prev, b.resp).first, b.mask);
  }
  torch::Tensor coef = rollout_coefficients(cfg, b.rewards, b.group_size, seq_logp);
  StepNormalizers norm;
  norm.num_seqs = double(n);
  norm.num_tokens = b.mask.sum().item<double>();
  norm.num_pos_tokens = b.mask.index({pos}).sum().item<double>();
  norm.sum_pos_weight = coef.index({pos}).sum().item<double>();
  norm.num_ent_tokens = cfg.popo.entropy_on == EntropyScope::kPositives ? norm.num_pos_tokens : norm.num_tokens;
  norm.max_len = kR + 2;
  double total = 0;
  const int64_t m = n / num_micro;
  for (int64_t s = 0; s < n; s += m) {
    auto rows = [&](const torch::Tensor& t) { return t.narrow(0, s, m); };
    auto [lp, h] = pol.logp(rows(b.prev), rows(b.resp));
    LossInputs in;
    in.logp = lp;
    in.entropy = h;
    in.mask = rows(b.mask);
    in.coef = rows(coef);
    in.logp_old = rows(b.logp_old);
    in.logp_ref = rows(b.logp_ref);
    in.positive = rows(pos);
    torch::Tensor idx = torch::nonzero(in.positive).reshape({-1});
    torch::Tensor feat = (pol.embed.index_select(0, rows(b.resp).reshape({-1})).reshape({m, kR, kC}) *
                          in.mask.unsqueeze(2)).sum(1) / in.mask.sum(1, true);  // (m, C)
    in.pred = pol.predictor->forward(feat.index_select(0, idx));
    in.target = rows(b.target).index_select(0, idx);
    LossResult r = compute_loss(cfg, in, norm);
    r.loss.backward();
    total += r.loss.item<double>();
  }
  std::vector<torch::Tensor> g;
  for (auto& p : pol.params()) g.push_back(p.grad().defined() ? p.grad().reshape({-1}).clone()
                                                              : torch::zeros({p.numel()}));
  return {torch::cat(g), total};
}

TEST(MicroBatchInvariance, EveryAlgorithmAndAggregationMode) {
  std::vector<AlgoConfig> cfgs;
  for (const char* name : {"grpo", "rloo", "psr", "nsr", "w_reinforce"}) {
    for (const char* agg : {"seq-mean-token-mean", "token-mean", "seq-mean-token-sum-norm"}) {
      AlgoConfig c;
      c.name = parse_enum<Algorithm>(name, "algo.name");
      c.grpo.loss_agg = parse_enum<LossAgg>(agg, "grpo.loss_agg");
      c.grpo.kl_coef = 0.05;
      cfgs.push_back(c);
    }
  }
  for (const char* ent_on : {"all", "positives"}) {
    for (const char* weights : {"softmax", "uniform"}) {
      AlgoConfig c;
      c.name = Algorithm::kPopo;
      c.popo.entropy_on = parse_enum<EntropyScope>(ent_on, "popo.entropy_on");
      c.popo.weights = parse_enum<PopoWeights>(weights, "popo.weights");
      cfgs.push_back(c);
    }
  }
  AlgoConfig raft;
  raft.name = Algorithm::kRaft;
  cfgs.push_back(raft);

  ToyPolicy pol;
  ToyBatch batch;
  for (const AlgoConfig& c : cfgs) {
    auto [g1, l1] = run_split(c, pol, batch, 1);
    ASSERT_GT(g1.abs().max().item<double>(), 0.0) << c.name;
    for (int64_t k : {2, 4}) {
      auto [gk, lk] = run_split(c, pol, batch, k);
      const double scale = g1.abs().max().item<double>();
      EXPECT_LE((gk - g1).abs().max().item<double>(), 1e-6 * scale)
          << c.name << " " << c.grpo.loss_agg << " " << c.popo.entropy_on << " split " << k;
      EXPECT_NEAR(lk, l1, 1e-6 * std::max(1.0, std::abs(l1))) << c.name << " split " << k;
    }
  }
}

TEST(PopoImplicitNegativeGradient, PositiveStepLowersNegativeAtSharedPrefix) {
  // Prompt token 0; rollout 1 answers token 1 (reward 1), rollout 2 answers token 2 (reward 0).
  torch::manual_seed(3);
  torch::Tensor table = torch::zeros({kV, kV}).requires_grad_(true);
  torch::Tensor resp = torch::tensor({{1}, {2}}, torch::kLong);
  torch::Tensor rewards = torch::tensor({1.0f, 0.0f});
  auto probs = [&]() { return torch::softmax(table[0], 0).detach().clone(); };
  torch::Tensor before = probs();
  AlgoConfig cfg;  // popo, sim and entropy off: the NLL alone
  cfg.popo.sim_coef = 0;
  cfg.popo.entropy_coef = 0;
  torch::Tensor lsm = torch::log_softmax(table[0], 0);                   // (V)
  torch::Tensor logp = lsm.index_select(0, resp.reshape({-1})).reshape({2, 1});  // (2, 1)
  LossInputs in;
  in.logp = logp;
  in.mask = torch::ones({2, 1});
  in.positive = rewards > 0;
  in.coef = popo_weights(rewards, logp.detach().reshape({-1}), 2, 1.0, false);
  StepNormalizers norm;
  norm.num_seqs = 2;
  norm.num_tokens = 2;
  norm.num_pos_tokens = 1;
  norm.sum_pos_weight = 1;
  compute_loss(cfg, in, norm).loss.backward();
  {
    torch::NoGradGuard ng;
    table.sub_(table.grad() * 1.0);  // SGD, lr 1
  }
  torch::Tensor after = probs();
  EXPECT_GT(after[1].item<double>(), before[1].item<double>());
  EXPECT_LT(after[2].item<double>(), before[2].item<double>());  // never read by the loss
  // softmax gradient: d(-log p1)/dz2 = p2 = 0.2, so z2 drops by exactly 0.2 with lr 1.
  EXPECT_NEAR(table[0][2].item<double>(), -0.2, 1e-6);
}

}  // namespace
}  // namespace popo
