// LoRA (model/lora.h): PEFT's init and names, the adapted forward against a merged model and a
// hand computation, the PEFT folder round trip and its refusals, dropout under gradient
// checkpointing, the siamese-as-EMA-of-adapters relation, the learner training adapters only,
// and a LoRA run trained, resumed and exported (`popo export --merge`). The PEFT library itself
// reads and writes these folders in tests/oracle/test_lora.py.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "core/error.h"
#include "core/io.h"
#include "model/load.h"
#include "model/lora.h"
#include "model/safetensors.h"
#include "rl/momentum.h"
#include "train/checkpoint.h"
#include "train/learner.h"
#include "train/train_config.h"
#include "train/trainer.h"
#include "torch_test_util.h"

namespace popo {
namespace {

namespace fs = std::filesystem;
using test::tensors_close;
using test::tiny_learner_config;

std::string scratch(const std::string& name) { return test::scratch_dir("lora_" + name); }

LoraConfig lora_cfg(int64_t rank, double alpha = 16) {
  LoraConfig c;
  c.rank = rank;
  c.alpha = alpha;
  return c;
}

// A batch of two left-padded rows over vocabulary 32.
std::pair<torch::Tensor, torch::Tensor> two_rows() {
  torch::Tensor ids = torch::tensor({{0, 5, 9, 3, 17, 2}, {4, 8, 15, 16, 23, 30}}, torch::kLong);
  torch::Tensor mask = torch::tensor({{0, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1}}, torch::kLong);
  return {ids, mask};
}

// Gives every B of a random value (a trained adapter; B = 0 would make every test trivial).
void randomise_b(LoraAdapters& a, uint64_t seed, double scale = 0.05) {
  torch::NoGradGuard g;
  torch::manual_seed(seed);
  for (auto& layer : a.layers)
    for (LoraPair& p : layer)
      if (p.defined()) p.B.copy_(torch::randn_like(p.B) * scale);
}

TEST(Lora, StepZeroEqualsTheBaseModelExactly) {
  for (const c10::ScalarType dtype : {torch::kFloat, torch::kBFloat16}) {
    CausalLM base = make_random_model(tiny_learner_config(), 3);
    base->to(dtype);
    auto [ids, mask] = two_rows();
    torch::NoGradGuard g;
    const torch::Tensor want = base->forward(ids, mask);
    attach_lora(base, lora_cfg(4), /*seed=*/11);
    const torch::Tensor got = base->forward(ids, mask);
    EXPECT_EQ(got.scalar_type(), dtype);
    EXPECT_TRUE(torch::equal(got, want)) << "dtype " << dtype << ": max |diff| "
                                         << (got.to(torch::kFloat) - want.to(torch::kFloat)).abs().max().item<double>();
  }
}

TEST(Lora, InitIsPeftsKaimingUniformAAndZeroB) {
  ModelConfig mc = tiny_learner_config();
  mc.hidden_size = 64;
  mc.head_dim = 16;
  mc.intermediate_size = 256;
  auto a = make_lora_adapters(mc, lora_cfg(32), /*seed=*/5, torch::kCPU);
  const auto& down = a->layers[1][kLoraDown];  // in = intermediate 256
  const auto& q = a->layers[0][kLoraQ];        // in = hidden 64
  for (const auto* p : {&down, &q}) {
    const double in = double(p->A.size(1));
    const double bound = 1.0 / std::sqrt(in);  // gain sqrt(2 / (1 + 5)) * sqrt(3 / fan_in)
    EXPECT_LE(p->A.abs().max().item<double>(), bound);
    EXPECT_GT(p->A.abs().max().item<double>(), 0.95 * bound);
    // U(-b, b) has variance b^2 / 3; 8192 or 2048 draws: within 10%.
    EXPECT_NEAR(p->A.var().item<double>(), bound * bound / 3, 0.1 * bound * bound / 3) << in;
    EXPECT_EQ(p->B.count_nonzero().item<int64_t>(), 0);
    EXPECT_EQ(p->A.scalar_type(), torch::kFloat);
    EXPECT_TRUE(p->A.requires_grad() && p->B.requires_grad());
  }
  // The same seed draws the same adapters (every rank starts from one init); another does not.
  auto same = make_lora_adapters(mc, lora_cfg(32), 5, torch::kCPU);
  auto other = make_lora_adapters(mc, lora_cfg(32), 6, torch::kCPU);
  EXPECT_TRUE(torch::equal(same->layers[1][kLoraDown].A, down.A));
  EXPECT_FALSE(torch::equal(other->layers[1][kLoraDown].A, down.A));
}

TEST(Lora, TensorNamesAndShapesFollowPeftsQwen2Layout) {
  // Written from PEFT's naming (PeftModel wraps the model as base_model.model; the adapter name
  // "default" is dropped from saved keys): base_model.model.<module path>.lora_A.weight (r, in),
  // .lora_B.weight (out, r). Qwen2 tiny: C 16, 4 heads x 4 = 16 for q/o, 2 kv heads x 4 = 8 for k/v, I 32.
  const ModelConfig mc = tiny_learner_config();
  LoraConfig cfg = lora_cfg(2);
  cfg.target_modules = {"q_proj", "v_proj", "down_proj"};
  auto a = make_lora_adapters(mc, cfg, 1, torch::kCPU);
  const std::vector<std::pair<std::string, std::vector<int64_t>>> want = {
      {"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", {2, 16}},
      {"base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", {16, 2}},
      {"base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight", {2, 16}},
      {"base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight", {8, 2}},
      {"base_model.model.model.layers.0.mlp.down_proj.lora_A.weight", {2, 32}},
      {"base_model.model.model.layers.0.mlp.down_proj.lora_B.weight", {16, 2}},
      {"base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight", {2, 16}},
      {"base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight", {16, 2}},
      {"base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight", {2, 16}},
      {"base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight", {8, 2}},
      {"base_model.model.model.layers.1.mlp.down_proj.lora_A.weight", {2, 32}},
      {"base_model.model.model.layers.1.mlp.down_proj.lora_B.weight", {16, 2}},
  };
  const auto got = a->named_tensors();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].first, want[i].first);
    EXPECT_EQ(got[i].second.sizes().vec(), want[i].second) << want[i].first;
  }
  // The same names in the saved file, and PEFT's config fields.
  const std::string dir = scratch("names");
  save_lora_adapter(*a, dir, "/models/base");
  const auto file = read_safetensors(dir + "/adapter_model.safetensors");
  ASSERT_EQ(file.size(), want.size());
  for (const auto& [name, shape] : want) {
    ASSERT_TRUE(file.count(name)) << name;
    EXPECT_EQ(file.at(name).sizes().vec(), shape);
    EXPECT_EQ(file.at(name).scalar_type(), torch::kFloat);
  }
  const nlohmann::json j = nlohmann::json::parse(read_file(dir + "/adapter_config.json"));
  EXPECT_EQ(j["peft_type"], "LORA");
  EXPECT_EQ(j["task_type"], "CAUSAL_LM");
  EXPECT_EQ(j["r"], 2);
  EXPECT_EQ(j["lora_alpha"], 16.0);
  EXPECT_EQ(j["base_model_name_or_path"], "/models/base");
  EXPECT_EQ(j["target_modules"], nlohmann::json({"down_proj", "q_proj", "v_proj"}));
  EXPECT_EQ(j["bias"], "none");
}

TEST(Lora, AdaptedProjectionIsWxPlusScaledBAx) {
  // One projection by hand in float64: y = W x + b + (alpha / r) B A x; alpha and rank both act.
  torch::nn::Linear lin(torch::nn::LinearOptions(6, 5).bias(true));
  torch::manual_seed(2);
  const torch::Tensor x = torch::randn({3, 6});
  for (const auto& [rank, alpha] : std::vector<std::pair<int64_t, double>>{{2, 16}, {2, 4}, {3, 16}}) {
    LoraPair pairs[kLoraModules];
    pairs[kLoraQ].A = torch::randn({rank, 6});
    pairs[kLoraQ].B = torch::randn({5, rank});
    const double s = alpha / double(rank);
    const LoraView view{pairs, s, 0.0};
    torch::NoGradGuard g;
    const torch::Tensor got = lora_linear(lin, x, view, kLoraQ);
    const auto xd = x.to(torch::kDouble);
    const torch::Tensor want = xd.matmul(lin->weight.to(torch::kDouble).t()) + lin->bias.to(torch::kDouble) +
                               s * xd.matmul(pairs[kLoraQ].A.to(torch::kDouble).t())
                                       .matmul(pairs[kLoraQ].B.to(torch::kDouble).t());
    EXPECT_TRUE(tensors_close(got, want, 1e-4)) << "r " << rank << " alpha " << alpha;
    // A module the view does not adapt is the plain projection.
    EXPECT_TRUE(torch::equal(lora_linear(lin, x, view, kLoraK), lin->forward(x)));
  }
}

TEST(Lora, MergedModelEqualsTheAdaptedModel) {
  // fp32, after "training" (random B): merge_lora folds alpha/r B A into W; logits within 1e-5.
  for (const auto& targets : std::vector<std::vector<std::string>>{lora_module_names(), {"k_proj", "up_proj"}}) {
    CausalLM m = make_random_model(tiny_learner_config(), 3);
    LoraConfig cfg = lora_cfg(4, 8);
    cfg.target_modules = targets;
    attach_lora(m, cfg, 2);
    randomise_b(*m->lora, 7, 0.3);
    auto [ids, mask] = two_rows();
    torch::NoGradGuard g;
    const torch::Tensor adapted = m->forward(ids, mask);
    CausalLM base = make_random_model(tiny_learner_config(), 3);
    const torch::Tensor plain = base->forward(ids, mask);
    ASSERT_GT((adapted - plain).abs().max().item<double>(), 1e-3) << "the adapters must change the logits";
    merge_lora(m);
    EXPECT_EQ(m->lora, nullptr);
    EXPECT_TRUE(tensors_close(m->forward(ids, mask), adapted, 1e-5));
  }
}

TEST(Lora, AdapterFolderRoundTripsAndLoadsAsAModel) {
  const std::string dir = scratch("roundtrip");
  CausalLM base = make_random_model(tiny_learner_config(), 4);
  save_model(base, dir + "/base");
  write_file_atomic(dir + "/base/tokenizer.json", "{}");
  attach_lora(base, lora_cfg(3, 6), 9);
  randomise_b(*base->lora, 3);
  save_lora_adapter(*base->lora, dir + "/adapter", dir + "/base");
  auto back = load_lora_adapter(dir + "/adapter", base->config(), torch::kCPU);
  EXPECT_DOUBLE_EQ(back->scale, 2.0);
  const auto a = base->lora->named_tensors(), b = back->named_tensors();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
  }
  // load_model on the adapter folder: the base from base_model_name_or_path plus the adapters.
  CausalLM loaded = load_model(dir + "/adapter", torch::kFloat, torch::kCPU);
  ASSERT_NE(loaded->lora, nullptr);
  auto [ids, mask] = two_rows();
  torch::NoGradGuard g;
  EXPECT_TRUE(torch::equal(loaded->forward(ids, mask), base->forward(ids, mask)));
  EXPECT_EQ(model_config_dir(dir + "/adapter"), dir + "/base");
  EXPECT_EQ(model_tokenizer_path(dir + "/adapter"), dir + "/base/tokenizer.json");
}

TEST(Lora, AdapterFolderRefusesWhatPopoDoesNotImplementByName) {
  const std::string dir = scratch("refuse");
  const ModelConfig mc = tiny_learner_config();
  auto a = make_lora_adapters(mc, lora_cfg(2), 1, torch::kCPU);
  save_lora_adapter(*a, dir, "/base");
  const nlohmann::json good = nlohmann::json::parse(read_file(dir + "/adapter_config.json"));
  auto expect_error = [&](const nlohmann::json& j, const std::string& want) {
    write_file_atomic(dir + "/adapter_config.json", j.dump());
    try {
      load_lora_adapter(dir, mc, torch::kCPU);
      ADD_FAILURE() << "expected an error naming " << want;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  };
  for (const auto& [key, value, want] : std::vector<std::tuple<std::string, nlohmann::json, std::string>>{
           {"use_dora", true, "use_dora"},
           {"bias", "all", "bias"},
           {"fan_in_fan_out", true, "fan_in_fan_out"},
           {"modules_to_save", nlohmann::json({"lm_head"}), "modules_to_save"},
           {"rank_pattern", nlohmann::json({{"q_proj", 4}}), "rank_pattern"},
           {"r", 3, "expected [3, 32] (r = 3)"},  // the tensors are rank 2
           {"peft_type", "IA3", "peft_type"}}) {
    nlohmann::json j = good;
    j[key] = value;
    expect_error(j, want);
  }
  // A file with a missing half, and a model of other widths.
  write_file_atomic(dir + "/adapter_config.json", good.dump());
  auto t = a->named_tensors();
  t.erase(t.begin() + 1);  // layer 0 q_proj lora_B
  write_safetensors(dir + "/adapter_model.safetensors", t);
  expect_error(good, "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight' is missing");
  ModelConfig wide = mc;
  wide.hidden_size = 32;
  wide.head_dim = 8;
  save_lora_adapter(*a, dir, "/base");
  try {
    load_lora_adapter(dir, wide, torch::kCPU);
    ADD_FAILURE() << "expected a shape error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has shape [16, 2], expected [32, 2]"), std::string::npos) << e.what();
  }
}

TEST(Lora, ConfigIsValidatedByKey) {
  auto expect_error = [](const LoraConfig& c, const std::string& want) {
    try {
      validate(c);
      ADD_FAILURE() << "expected an error naming " << want;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  };
  LoraConfig c = lora_cfg(-1);
  expect_error(c, "lora.rank");
  c = lora_cfg(4, 0);
  expect_error(c, "lora.alpha");
  c = lora_cfg(4);
  c.dropout = 1;
  expect_error(c, "lora.dropout");
  c = lora_cfg(4);
  c.target_modules = {"q_proj", "lm_head"};
  expect_error(c, "unknown module 'lm_head'");
  c.target_modules = {"q_proj", "q_proj"};
  expect_error(c, "twice");
  c.target_modules = {};
  expect_error(c, "lora.target_modules is empty");
  c = lora_cfg(0);  // off: nothing else is checked
  c.alpha = -1;
  EXPECT_NO_THROW(validate(c));
}

// Returns the gradients of every adapter tensor after one backward of the summed logits.
std::vector<torch::Tensor> adapter_grads(bool checkpointing, double dropout, uint64_t seed) {
  CausalLM m = make_random_model(tiny_learner_config(), 3);
  LoraConfig cfg = lora_cfg(4);
  cfg.dropout = dropout;
  attach_lora(m, cfg, 2);
  randomise_b(*m->lora, 5, 0.3);
  m->gradient_checkpointing = checkpointing;
  auto [ids, mask] = two_rows();
  torch::manual_seed(seed);
  m->forward(ids, mask).pow(2).sum().backward();
  std::vector<torch::Tensor> g;
  for (const at::Tensor& t : m->lora->tensors()) g.push_back(t.grad().clone());
  for (const at::Tensor& p : m->parameters()) EXPECT_FALSE(p.grad().defined()) << "the base got a gradient";
  return g;
}

TEST(Lora, DropoutActsInTheLossForwardAndReplaysUnderGradientCheckpointing) {
  const auto plain = adapter_grads(false, 0.0, 1);
  const auto dropped = adapter_grads(false, 0.5, 1);
  const auto dropped_ckpt = adapter_grads(true, 0.5, 1);
  const auto plain_ckpt = adapter_grads(true, 0.0, 1);
  ASSERT_EQ(plain.size(), dropped.size());
  double changed = 0;
  for (size_t i = 0; i < plain.size(); ++i) {
    changed = std::max(changed, (plain[i] - dropped[i]).abs().max().item<double>());
    // The recomputation draws the same masks as the forward did: the same gradients.
    EXPECT_TRUE(tensors_close(dropped_ckpt[i], dropped[i], 1e-5)) << "tensor " << i;
    EXPECT_TRUE(tensors_close(plain_ckpt[i], plain[i], 1e-5)) << "tensor " << i;
  }
  EXPECT_GT(changed, 1e-3) << "lora.dropout changed no gradient";
  // No dropout without grad (sampling, evaluation): the forward is deterministic.
  CausalLM m = make_random_model(tiny_learner_config(), 3);
  LoraConfig cfg = lora_cfg(4);
  cfg.dropout = 0.5;
  attach_lora(m, cfg, 2);
  randomise_b(*m->lora, 5, 0.3);
  auto [ids, mask] = two_rows();
  torch::NoGradGuard g;
  EXPECT_TRUE(torch::equal(m->forward(ids, mask), m->forward(ids, mask)));
}

TEST(Lora, SiameseEmaOfAdaptersEqualsTheMergedEmaUpToTheSecondOrderTerm) {
  // Merged weights W + s B A. The EMA of the adapters, (tau Bx + (1-tau) Bt)(tau Ax + (1-tau) At),
  // equals the EMA of the merged products tau Bx Ax + (1-tau) Bt At minus tau (1-tau) (Bx - Bt)(Ax - At):
  // the same to first order in the adapters' difference. Checked in float64 on a model.
  const ModelConfig mc = tiny_learner_config();
  const double s = 16.0 / 4, tau = 0.9;
  auto theta = make_lora_adapters(mc, lora_cfg(4), 1, torch::kCPU);
  auto xi = make_lora_adapters(mc, lora_cfg(4), 2, torch::kCPU);
  randomise_b(*theta, 3, 0.2);
  randomise_b(*xi, 4, 0.2);
  const auto xi0 = clone_lora_adapters(*xi);
  ema_update_tensors(xi->tensors(), theta->tensors(), tau);
  for (size_t l = 0; l < xi->layers.size(); ++l) {
    for (int m = 0; m < kLoraModules; ++m) {
      auto d = [](const at::Tensor& t) { return t.to(torch::kDouble); };
      const LoraPair &t = theta->layers[l][size_t(m)], &x0 = xi0->layers[l][size_t(m)], &x1 = xi->layers[l][size_t(m)];
      const torch::Tensor merged_of_ema = s * d(x1.B).matmul(d(x1.A));
      const torch::Tensor ema_of_merged = tau * s * d(x0.B).matmul(d(x0.A)) + (1 - tau) * s * d(t.B).matmul(d(t.A));
      const torch::Tensor second = s * tau * (1 - tau) * (d(x0.B) - d(t.B)).matmul(d(x0.A) - d(t.A));
      EXPECT_TRUE(tensors_close(merged_of_ema, ema_of_merged - second, 1e-6)) << "layer " << l << " module " << m;
      ASSERT_GT(second.abs().max().item<double>(), 1e-4) << "the relation must be tested where the term is not 0";
    }
  }
}

TEST(Lora, LearnerTrainsAdaptersOnlyAndTheSiameseFollowsTheirEma) {
  // POPO over a frozen bf16 base: gradients and optimizer state exist for the adapters and the
  // predictor only, the base stays bit-identical, and the siamese adapters are the EMA of the
  // policy's while sharing the base tensors.
  CausalLM policy = make_random_model(tiny_learner_config(), 1);
  policy->to(torch::kBFloat16);
  std::vector<torch::Tensor> base_before;
  for (const at::Tensor& p : policy->parameters()) base_before.push_back(p.clone());
  attach_lora(policy, lora_cfg(4), 3);
  CausalLM siamese = share_base(policy);
  siamese->lora = clone_lora_adapters(*policy->lora);
  for (const at::Tensor& p : own_tensors(siamese)) p.set_requires_grad(false);
  ASSERT_TRUE(siamese->parameters()[0].is_same(policy->parameters()[0])) << "the siamese must share the base";
  torch::manual_seed(9);
  Predictor predictor(16, 8, 2);
  predictor->to(torch::kBFloat16);
  AlgoConfig algo;
  algo.name = Algorithm::kPopo;
  algo.popo.momentum = 0.5;
  OptimConfig optim;
  optim.lr = 1e-2;
  optim.warmup_ratio = 0;
  optim.steps = 3;
  LearnerConfig lc;
  lc.update.micro_batch_size = 6;
  Learner learner(policy, predictor, algo, optim, lc, siamese);
  RolloutBatch batch = test::rollouts_3x2(true);
  const torch::Tensor rewards = torch::tensor({1.0f, 0.0f, 0.0f, 0.0f, 1.0f, 1.0f});
  const size_t n_adapter = policy->lora->tensors().size();
  EXPECT_EQ(learner.trainable_parameters().size(), n_adapter + predictor->parameters().size());
  for (int step = 0; step < 3; ++step) {
    std::vector<torch::Tensor> theta_before, xi_before;
    for (const at::Tensor& t : policy->lora->tensors()) theta_before.push_back(t.detach().clone());
    for (const at::Tensor& t : siamese->lora->tensors()) xi_before.push_back(t.clone());
    const torch::Tensor coef = learner.coefficients(batch, rewards);
    ASSERT_FALSE(learner.step(batch, rewards, coef).skipped);
    // xi <- tau xi + (1 - tau) theta, theta the adapters after the step (fp32: no masters).
    const auto theta = policy->lora->tensors(), xi = siamese->lora->tensors();
    for (size_t i = 0; i < xi.size(); ++i) {
      EXPECT_TRUE(tensors_close(xi[i], 0.5 * xi_before[i] + 0.5 * theta[i].detach(), 1e-7)) << i;
    }
    double moved = 0;
    for (size_t i = 0; i < theta.size(); ++i) moved += (theta[i] - theta_before[i]).abs().sum().item<double>();
    EXPECT_GT(moved, 0) << "step " << step << " did not move the adapters";
  }
  const auto base_after = policy->parameters();
  for (size_t i = 0; i < base_after.size(); ++i) {
    EXPECT_TRUE(torch::equal(base_after[i], base_before[i])) << "base parameter " << i << " changed";
    EXPECT_FALSE(base_after[i].grad().defined()) << "base parameter " << i << " has a gradient";
  }
  // Optimizer state: one exp_avg per adapter tensor and predictor parameter, none for the base.
  size_t in_groups = 0;
  for (const auto& group : learner.optimizer().param_groups()) in_groups += group.params().size();
  EXPECT_EQ(in_groups, n_adapter + predictor->parameters().size());
  EXPECT_EQ(learner.optimizer().state().size(), n_adapter + predictor->parameters().size());
  EXPECT_TRUE(learner.master_weights().size() == predictor->parameters().size())
      << "the fp32 adapters need no masters; the bf16 predictor has them";
}

// ---- a LoRA run: trained, checkpointed, resumed, exported ----------------------------------

RunConfig lora_run_config(const std::string& dir) {
  RunConfig c = default_run_config();
  c.data.rl_subset = 16;
  c.data.heldout_size = 8;
  c.trainer.optim.steps = 4;
  c.trainer.prompts_per_step = 4;
  c.trainer.group_size = 4;
  c.trainer.update.micro_batch_size = 16;
  c.trainer.optim.lr = 2e-3;
  c.trainer.optim.warmup_ratio = 0;
  c.trainer.eval_every = 0;
  c.trainer.save_every = 2;
  c.trainer.threads = 1;
  c.algo.popo.kl_every = 1;
  c.lora.rank = 4;
  c.lora.alpha = 8;
  c.run.dir = dir;
  c.run.name = "run";
  c.run.cache_dir = (fs::path(testing::TempDir()) / "popo_trainer_test_cache").string();
  return c;
}

using test::quiet;

std::map<std::string, at::Tensor> adapter_file(const std::string& folder) {
  return read_safetensors(folder + "/adapter_model.safetensors");
}

TEST(LoraRun, PopoCheckpointsPeftFoldersResumesBitwiseAndExportsAMergedModel) {
  const std::string dir = scratch("run");
  RunConfig cfg = lora_run_config(dir);
  torch::set_num_threads(1);
  cfg.run.name = "straight";
  const TrainResult a = run_training(cfg, quiet());
  ASSERT_EQ(a.steps_done, 4);
  const std::string ckpt = latest_checkpoint(a.run_dir + "/checkpoints");
  for (const char* f : {"policy/adapter_config.json", "policy/adapter_model.safetensors", "policy/tokenizer.json",
                        "siamese/adapter_model.safetensors"})
    EXPECT_TRUE(fs::exists(ckpt + "/" + f)) << f;
  EXPECT_FALSE(fs::exists(ckpt + "/policy/model.safetensors")) << "a LoRA checkpoint must not copy the base";
  EXPECT_FALSE(fs::exists(ckpt + "/masters.pt"));
  const nlohmann::json acfg = nlohmann::json::parse(read_file(ckpt + "/policy/adapter_config.json"));
  EXPECT_EQ(acfg["r"], 4);
  EXPECT_EQ(acfg["lora_alpha"], 8.0);
  EXPECT_EQ(acfg["target_modules"].size(), 7u);
  EXPECT_EQ(acfg["base_model_name_or_path"].get<std::string>().front(), '/') << "an absolute base path";
  const auto policy = adapter_file(ckpt + "/policy"), siamese = adapter_file(ckpt + "/siamese");
  double b_norm = 0, diff = 0;
  for (const auto& [k, v] : policy) {
    if (k.find("lora_B") != std::string::npos) b_norm += v.abs().sum().item<double>();
    diff += (v - siamese.at(k)).abs().sum().item<double>();
  }
  EXPECT_GT(b_norm, 0) << "the adapters did not train";
  EXPECT_GT(diff, 0) << "the siamese adapters must lag the policy's (EMA)";

  // Resume: 2 steps, stop, resume to 4 equals 4 straight, bit for bit.
  cfg.run.name = "resumed";
  TrainOptions first = quiet();
  first.stop_after_step = 2;
  const TrainResult b1 = run_training(cfg, first);
  ASSERT_EQ(b1.steps_done, 2);
  TrainOptions second = quiet();
  second.resume_dir = b1.run_dir;
  const TrainResult b2 = run_training(load_run_config(b1.run_dir, {}), second);
  ASSERT_EQ(b2.steps_done, 4);
  const std::string ckpt_b = latest_checkpoint(b2.run_dir + "/checkpoints");
  for (const char* part : {"policy", "siamese"}) {
    const auto x = adapter_file(ckpt + "/" + part), y = adapter_file(ckpt_b + "/" + part);
    ASSERT_EQ(x.size(), y.size());
    for (const auto& [k, v] : x) EXPECT_TRUE(torch::equal(v, y.at(k))) << part << " " << k;
  }

  // A resume with other lora settings is refused by name.
  try {
    TrainOptions again = quiet();
    again.resume_dir = b1.run_dir;
    run_training(load_run_config(b1.run_dir, {"lora.rank=0"}), again);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lora"), std::string::npos) << e.what();
  }

  // popo export --merge of the run folder: a full model whose logits equal the adapted policy's.
  const std::string out = dir + "/merged";
  const std::string cmd = std::string(POPO_BINARY) + " export " + a.run_dir + " " + out + " --merge > " + dir +
                          "/export.log 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << read_file(dir + "/export.log");
  EXPECT_TRUE(fs::exists(out + "/config.json") && fs::exists(out + "/model.safetensors") &&
              fs::exists(out + "/tokenizer.json"));
  CausalLM adapted = load_model(ckpt + "/policy", torch::kFloat, torch::kCPU);
  ASSERT_NE(adapted->lora, nullptr);
  CausalLM merged = load_model(out, torch::kFloat, torch::kCPU);
  EXPECT_EQ(merged->lora, nullptr);
  torch::Tensor ids = torch::randint(0, merged->config().vocab_size, {2, 12}, torch::kLong);
  torch::NoGradGuard g;
  EXPECT_TRUE(tensors_close(merged->forward(ids, {}), adapted->forward(ids, {}), 1e-5));
  // A second export into the same folder is refused; nothing half-written is left.
  EXPECT_NE(std::system(cmd.c_str()), 0);
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
}

TEST(LoraRun, GrpoReferenceIsTheBaseWithAdaptersOff) {
  // GRPO with a KL term: the reference is the shared base without adapters, so at step 0 (B = 0)
  // the KL is exactly 0 and it grows once the adapters move; the base itself never changes.
  const std::string dir = scratch("grpo");
  RunConfig cfg = lora_run_config(dir);
  cfg.algo.name = Algorithm::kGrpo;
  cfg.algo.grpo.kl_coef = 0.05;
  cfg.trainer.save_every = 0;
  cfg.lora.rank = 2;
  cfg.lora.alpha = 32;
  cfg.lora.dropout = 0.1;
  cfg.lora.target_modules = {"v_proj", "q_proj"};
  const TrainResult r = run_training(cfg, quiet());
  ASSERT_EQ(r.steps_done, 4);
  // Every lora key reached the adapters the run trained and saved.
  const std::string policy = latest_checkpoint(r.run_dir + "/checkpoints") + "/policy";
  const nlohmann::json j = nlohmann::json::parse(read_file(policy + "/adapter_config.json"));
  EXPECT_EQ(j["r"], 2);
  EXPECT_EQ(j["lora_alpha"], 32.0);
  EXPECT_EQ(j["lora_dropout"], 0.1);
  EXPECT_EQ(j["target_modules"], nlohmann::json({"q_proj", "v_proj"}));
  EXPECT_EQ(adapter_file(policy).size(), 2u * 2 * 2);  // 2 layers x 2 modules x (A, B)
  std::vector<double> kl;
  for_each_jsonl(r.run_dir + "/metrics.jsonl", [&](const nlohmann::json& row, int) {
    if (row.contains("grpo/kl_loss")) kl.push_back(row["grpo/kl_loss"].get<double>());
  });
  ASSERT_EQ(kl.size(), 4u) << "no kl metric";
  EXPECT_EQ(kl[0], 0.0);
  EXPECT_GT(kl[3], 0.0);
}

// ---- the PEFT oracle's C++ side (tests/oracle/test_lora.py) -------------------------------------

TEST(OracleLora, MatchPeftAndSaveForReload) {
  const char* root = std::getenv("POPO_ORACLE_LORA_DIR");
  if (root == nullptr) GTEST_SKIP() << "POPO_ORACLE_LORA_DIR unset: run by tests/oracle/test_lora.py";
  int n = 0;
  for (const auto& entry : fs::directory_iterator(root)) {
    const fs::path d = entry.path();
    if (!fs::exists(d / "lora_reference.json")) continue;
    SCOPED_TRACE(d.string());
    const auto ref = read_safetensors((d / "lora_reference.safetensors").string());
    const nlohmann::json info = nlohmann::json::parse(read_file((d / "lora_reference.json").string()));
    const torch::Tensor ids = ref.at("input_ids"), mask = ref.at("attention_mask");
    const torch::Tensor real = mask.to(torch::kBool);
    CausalLM m = load_model((d / "peft_adapter").string(), torch::kFloat, torch::kCPU);
    ASSERT_NE(m->lora, nullptr);
    torch::NoGradGuard g;
    EXPECT_TRUE(tensors_close(m->forward(ids, mask).index({real}), ref.at("logits").index({real}),
                              info["tol"].get<double>()));
    const std::string base = fs::absolute(d / "base").string();
    save_lora_adapter(*m->lora, (d / "popo_adapter").string(), base);
    merge_lora(m);
    save_model(m, (d / "popo_merged").string());
    LoraConfig cfg;
    cfg.rank = info["r"].get<int64_t>();
    cfg.alpha = info["alpha"].get<double>();
    cfg.target_modules = info["targets"].get<std::vector<std::string>>();
    save_lora_adapter(*make_lora_adapters(m->config(), cfg, 1, torch::kCPU), (d / "popo_fresh").string(), base);
    ++n;
  }
  EXPECT_GT(n, 0) << "no cases under " << root;
}

}  // namespace
}  // namespace popo
