// Checks of the POPO building blocks: predictor shapes and Xavier init, ema_update at tau 0 / 1 /
// 0.5 and its name check, the momentum laws, and the chunked token log-probs against the plain
// full-logits computation (values and gradients).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
#include "rl/momentum.h"
#include "rl/predictor.h"
#include "rl/token_logprobs.h"

namespace popo {
namespace {

TEST(Predictor, ShapesAndXavierInit) {
  torch::manual_seed(0);
  Predictor p(/*dim=*/8, /*hidden=*/16, /*layers=*/2);
  auto params = p->named_parameters();
  ASSERT_TRUE(params.contains("net.0.weight"));
  EXPECT_EQ(params["net.0.weight"].sizes(), torch::IntArrayRef({16, 8}));
  EXPECT_EQ(params["net.1.weight"].sizes(), torch::IntArrayRef({16}));  // LayerNorm
  EXPECT_EQ(params["net.3.weight"].sizes(), torch::IntArrayRef({8, 16}));
  // Xavier uniform: U(-b, b), b = sqrt(6 / (fan_in + fan_out)) = 0.5; biases zero.
  torch::Tensor w = params["net.0.weight"];
  EXPECT_LE(w.abs().max().item<double>(), 0.5 + 1e-7);
  EXPECT_NEAR(w.std().item<double>(), 0.5 / std::sqrt(3.0), 0.06);
  EXPECT_EQ(params["net.0.bias"].abs().sum().item<double>(), 0.0);
  EXPECT_EQ(p->forward(torch::randn({5, 8}, torch::kDouble)).sizes(), torch::IntArrayRef({5, 8}));
  EXPECT_EQ(p->forward(torch::randn({5, 8})).scalar_type(), torch::kFloat);

  Predictor one(8, 16, 1);
  EXPECT_EQ(one->parameters().size(), 2u);  // one Linear C -> C
  Predictor identity(8, 16, 0);
  EXPECT_TRUE(identity->parameters().empty());
  torch::Tensor x = torch::randn({3, 8});
  EXPECT_TRUE(torch::equal(identity->forward(x), x));
  EXPECT_THROW(p->forward(torch::randn({3, 7})), c10::Error);
}

TEST(EmaUpdate, TauZeroCopiesTauOneKeepsTauHalfAverages) {
  torch::manual_seed(1);
  torch::nn::Linear online(4, 3), target(4, 3);
  torch::Tensor w0 = target->weight.detach().clone();
  ema_update(*target, *online, /*tau=*/1.0);
  EXPECT_TRUE(torch::equal(target->weight, w0));
  ema_update(*target, *online, /*tau=*/0.5);
  EXPECT_TRUE(torch::allclose(target->weight, 0.5 * w0 + 0.5 * online->weight));
  ema_update(*target, *online, /*tau=*/0.0);
  EXPECT_TRUE(torch::equal(target->weight, online->weight));
  EXPECT_TRUE(torch::equal(target->bias, online->bias));
  EXPECT_FALSE(target->weight.requires_grad() && target->weight.grad().defined());
}

TEST(EmaUpdate, MismatchedNetworksThrowNamingTheParameter) {
  torch::nn::Linear a(4, 3), b(4, 2);
  try {
    ema_update(*a, *b, 0.9);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("weight"), std::string::npos) << e.what();
  }
  torch::nn::Sequential s(torch::nn::Linear(4, 3));
  EXPECT_THROW(ema_update(*a, *s, 0.9), Error);  // "weight" vs "0.weight"
  EXPECT_THROW(ema_update(*a, *a, 1.5), Error);
}

TEST(MomentumSchedule, FixedCosineAdaptive) {
  PopoConfig cfg;
  cfg.momentum = 0.99;
  MomentumSchedule fixed(cfg, 100);
  EXPECT_DOUBLE_EQ(fixed.tau(0), 0.99);
  EXPECT_DOUBLE_EQ(fixed.tau(77), 0.99);

  cfg.momentum_law = MomentumLaw::kCosine;  // 1 - (1 - tau0)(cos(pi k / K) + 1) / 2
  MomentumSchedule cosine(cfg, 100);
  EXPECT_NEAR(cosine.tau(0), 0.99, 1e-12);
  EXPECT_NEAR(cosine.tau(50), 0.995, 1e-12);
  EXPECT_NEAR(cosine.tau(100), 1.0, 1e-12);

  cfg.momentum_law = MomentumLaw::kAdaptive;
  cfg.momentum_target_kl = 1e-3;
  cfg.momentum_adapt_factor = 2;
  MomentumSchedule adaptive(cfg, 100);
  adaptive.observe_kl(1e-2);  // drift above 1.5 x target: 1 - tau halves
  EXPECT_NEAR(adaptive.tau(1), 0.995, 1e-12);
  adaptive.observe_kl(1.2e-3);  // inside the band: unchanged
  EXPECT_NEAR(adaptive.tau(2), 0.995, 1e-12);
  adaptive.observe_kl(1e-5);  // below target / 1.5: 1 - tau doubles
  EXPECT_NEAR(adaptive.tau(3), 0.99, 1e-12);
  adaptive.observe_kl(NAN);  // ignored
  EXPECT_NEAR(adaptive.tau(4), 0.99, 1e-12);
  for (int i = 0; i < 40; ++i) adaptive.observe_kl(1.0);
  EXPECT_NEAR(adaptive.tau(5), cfg.momentum_max, 1e-12);  // clamped
  for (int i = 0; i < 40; ++i) adaptive.observe_kl(0.0);
  EXPECT_NEAR(adaptive.tau(6), cfg.momentum_min, 1e-12);
}

TEST(TokenLogprobs, ChunkedMatchesFullLogitsValuesAndGradients) {
  torch::manual_seed(2);
  const int64_t n = 2, t = 5, c = 4, v = 7;
  const double temperature = 0.7;
  torch::Tensor h0 = torch::randn({n, t, c});
  torch::Tensor w0 = torch::randn({v, c});
  torch::Tensor targets = torch::randint(v, {n, t}, torch::kLong);
  torch::Tensor a = torch::randn({n, t}), b = torch::randn({n, t});  // upstream gradients

  // Plain full-logits reference with autograd.
  torch::Tensor h_ref = h0.clone().requires_grad_(true), w_ref = w0.clone().requires_grad_(true);
  torch::Tensor lsm = torch::log_softmax(torch::matmul(h_ref, w_ref.t()) / temperature, -1);
  torch::Tensor lp_ref = lsm.gather(-1, targets.unsqueeze(-1)).squeeze(-1);
  torch::Tensor ent_ref = -(lsm.exp() * lsm).sum(-1);
  ((lp_ref * a).sum() + (ent_ref * b).sum()).backward();

  for (int64_t chunk : {1, 3, 10, 64}) {
    torch::Tensor h = h0.clone().requires_grad_(true), w = w0.clone().requires_grad_(true);
    TokenStats s = token_logprobs(h, w, targets, temperature, /*with_entropy=*/true, chunk);
    EXPECT_TRUE(torch::allclose(s.logp, lp_ref, 1e-5, 1e-5)) << "chunk " << chunk;
    EXPECT_TRUE(torch::allclose(s.entropy, ent_ref, 1e-5, 1e-5)) << "chunk " << chunk;
    ((s.logp * a).sum() + (s.entropy * b).sum()).backward();
    EXPECT_TRUE(torch::allclose(h.grad(), h_ref.grad(), 1e-5, 1e-5)) << "chunk " << chunk;
    EXPECT_TRUE(torch::allclose(w.grad(), w_ref.grad(), 1e-5, 1e-5)) << "chunk " << chunk;
  }
  // log-probs only: the gradient is that of (lp * a).sum().
  torch::Tensor h_ref2 = h0.clone().requires_grad_(true);
  torch::Tensor lsm2 = torch::log_softmax(torch::matmul(h_ref2, w0.t()) / temperature, -1);
  (lsm2.gather(-1, targets.unsqueeze(-1)).squeeze(-1) * a).sum().backward();
  torch::Tensor h = h0.clone().requires_grad_(true);
  TokenStats s = token_logprobs(h, w0, targets, temperature, /*with_entropy=*/false, 4);
  EXPECT_FALSE(s.entropy.defined());
  (s.logp * a).sum().backward();
  EXPECT_TRUE(torch::allclose(h.grad(), h_ref2.grad(), 1e-5, 1e-5));
}

}  // namespace
}  // namespace popo
