// Tests of the rollout sampler and the logits transforms: behaviour log-probs against a fresh
// full forward pass, greedy output against HF generate (fixtures), sampling frequencies against
// softmax(logits / T), top-k / top-p support, stop strings across token boundaries, seeding and
// bad inputs.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <set>

#include "core/error.h"
#include "model/load.h"
#include "model/safetensors.h"
#include "sampling/generate.h"
#include "sampling/logits_process.h"
#include "torch_test_util.h"

namespace popo {
namespace {

using test::model_fixture;
using test::tensors_close;
constexpr float kInf = std::numeric_limits<float>::infinity();

CausalLM load_fixture(const std::string& name) { return load_model(model_fixture(name), torch::kFloat, torch::kCPU); }

// Returns the log-probs (N, R) float32 of batch's response tokens under one full forward pass
// over prompt + response (no cache) at temperature, 0 at response pads: the reference the
// sampler's incremental behaviour log-probs are checked against.
torch::Tensor full_forward_logprobs(CausalLM& model, const RolloutBatch& batch, double temperature) {
  const int64_t P = batch.prompt_ids.size(1), R = batch.response_ids.size(1);
  auto ids = torch::cat({batch.prompt_ids, batch.response_ids}, 1);                          // (N, P+R)
  auto mask = torch::cat({batch.prompt_mask, batch.response_mask.to(torch::kLong)}, 1);      // (N, P+R)
  auto hidden = model->forward_hidden(ids, mask);                                           // (N, P+R, C)
  auto logits = model->lm_head(hidden.narrow(1, P - 1, R)).to(torch::kFloat) / temperature;  // (N, R, V)
  auto lp = torch::log_softmax(logits, -1).gather(-1, batch.response_ids.unsqueeze(-1)).squeeze(-1);
  return lp * batch.response_mask;                                                          // (N, R)
}

// ---- logits transforms: hand-computed tables ----------------------------------------------------

TEST(LogitsProcess, TopKTable) {
  struct Case { std::vector<float> in; int64_t k; std::vector<float> want; };
  const Case cases[] = {
      {{1, 3, 2, 5}, 2, {-kInf, 3, -kInf, 5}},
      {{1, 3, 2, 5}, 0, {1, 3, 2, 5}},
      {{1, 3, 2, 5}, 4, {1, 3, 2, 5}},
      {{1, 3, 3, 0}, 2, {-kInf, 3, 3, -kInf}},
      {{1, 3, 3, 0}, 1, {-kInf, 3, 3, -kInf}},  // ties with the k-th value kept
  };
  for (const auto& c : cases) {
    auto got = apply_top_k(torch::tensor(c.in), c.k);
    EXPECT_TRUE(torch::equal(got, torch::tensor(c.want))) << "k=" << c.k << " got " << got;
  }
}

TEST(LogitsProcess, TopPTable) {
  // probs 0.1 0.2 0.3 0.4: keep the smallest top set whose mass reaches p.
  auto logits = torch::log(torch::tensor({0.1f, 0.2f, 0.3f, 0.4f}));
  struct Case { double p; std::vector<bool> kept; };
  const Case cases[] = {
      {1.0, {true, true, true, true}},
      {0.75, {false, true, true, true}},
      {0.5, {false, false, true, true}},
      {0.4, {false, false, false, true}},
      {0.05, {false, false, false, true}},  // the top token always survives
  };
  for (const auto& c : cases) {
    auto got = apply_top_p(logits, c.p);
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(std::isfinite(got[i].item<float>()), c.kept[i]) << "p=" << c.p << " index " << i;
    }
  }
}

TEST(LogitsProcess, TemperatureDivides) {
  EXPECT_TRUE(torch::allclose(apply_temperature(torch::tensor({1.0f, -2.0f}), 0.5), torch::tensor({2.0f, -4.0f})));
  EXPECT_THROW(apply_temperature(torch::tensor({1.0f}), 0.0), Error);
}

// ---- the sampler against a fresh full forward pass -------------------------------------------

const std::vector<std::vector<int32_t>> kRagged = {{5, 17, 300}, {9, 8, 7, 6, 5, 4, 3}, {100, 200, 300, 400, 11}};

class SamplerOnFixture : public ::testing::TestWithParam<const char*> {};

TEST_P(SamplerOnFixture, BehaviourLogprobsEqualFullForward) {
  CausalLM model = load_fixture(GetParam());
  for (bool compact : {true, false}) {
    SamplingConfig cfg;
    cfg.temperature = 0.7;
    cfg.top_k = 50;
    cfg.top_p = 0.9;
    cfg.max_new_tokens = 12;
    cfg.group_size = 3;
    cfg.seed = 7;
    cfg.compact_finished = compact;
    for (int64_t id = 0; id < 512; id += 20) cfg.eos_token_ids.push_back(id);  // rows finish at different steps
    RolloutBatch b = generate(model, kRagged, cfg, static_cast<const Tokenizer*>(nullptr));
    ASSERT_EQ(b.size(), 9);
    ASSERT_EQ(b.response_ids.size(0), 9);
    torch::NoGradGuard no_grad;
    auto ref = full_forward_logprobs(model, b, cfg.temperature);  // (N, R)
    EXPECT_TRUE(tensors_close(b.logp, ref, 1e-5)) << "compact=" << compact;
    // Each row's response mask is a prefix; EOS ends exactly the rows that report kStop.
    for (int64_t n = 0; n < b.size(); ++n) {
      auto len = b.response_mask[n].sum().item<float>();
      EXPECT_EQ(b.response_mask[n].narrow(0, 0, static_cast<int64_t>(len)).min().item<float>(), 1.0f);
      const int64_t last = b.response_ids[n][static_cast<int64_t>(len) - 1].item<int64_t>();
      EXPECT_EQ(b.finish[n] == FinishReason::kStop, last % 20 == 0) << "row " << n;
      EXPECT_EQ(b.group[n], n / 3);
    }
  }
}

TEST_P(SamplerOnFixture, GreedyMatchesHfGenerateWithRaggedBatch) {
  CausalLM model = load_fixture(GetParam());
  auto ref = read_safetensors(model_fixture(GetParam()) + "/reference.safetensors");
  auto prompt = ref.at("greedy_prompt")[0];
  auto expected = ref.at("greedy_output")[0].narrow(0, prompt.size(0), ref.at("greedy_output").size(1) - prompt.size(0));
  std::vector<int32_t> p(prompt.size(0));
  for (int64_t i = 0; i < prompt.size(0); ++i) p[i] = static_cast<int32_t>(prompt[i].item<int64_t>());
  SamplingConfig cfg;
  cfg.temperature = 0.0;
  cfg.max_new_tokens = expected.size(0);
  cfg.group_size = 2;
  // The HF prompt beside a longer one, so it is left-padded in the batch.
  RolloutBatch b = generate(model, {std::vector<int32_t>(14, 3), p}, cfg, static_cast<const Tokenizer*>(nullptr));
  for (int64_t row : {2, 3}) {
    EXPECT_TRUE(torch::equal(b.response_ids[row], expected)) << "row " << row << " got " << b.response_ids[row]
                                                             << " expected " << expected;
    EXPECT_EQ(b.finish[row], FinishReason::kLength);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, SamplerOnFixture,
                         ::testing::Values("qwen2-tiny", "qwen2-tiny-tied-bf16", "qwen3-tiny", "llama-tiny"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (auto& ch : s) if (ch == '-') ch = '_';
                           return s;
                         });

TEST(Sampler, GreedyWithAndWithoutCompactionAgree) {
  CausalLM model = load_fixture("qwen3-tiny");
  SamplingConfig cfg;
  cfg.temperature = 0.0;
  cfg.max_new_tokens = 16;
  for (int64_t id = 3; id < 512; id += 9) cfg.eos_token_ids.push_back(id);
  RolloutBatch a = generate(model, kRagged, cfg, static_cast<const Tokenizer*>(nullptr));
  cfg.compact_finished = false;
  RolloutBatch b = generate(model, kRagged, cfg, static_cast<const Tokenizer*>(nullptr));
  EXPECT_TRUE(torch::equal(a.response_ids, b.response_ids));
  EXPECT_TRUE(tensors_close(a.logp, b.logp, 1e-5));
}

// ---- sampling distribution ----------------------------------------------------------------

// Returns the next-token distribution softmax(logits / T) after prompt, from a plain forward.
torch::Tensor next_token_probs(CausalLM& model, const std::vector<int32_t>& prompt, double T) {
  torch::NoGradGuard no_grad;
  std::vector<int64_t> ids(prompt.begin(), prompt.end());
  auto logits = model->forward(torch::tensor(ids).view({1, -1}), torch::Tensor())[0][-1];  // (V)
  return torch::softmax(logits / T, -1);
}

// Returns the empirical frequencies of the first sampled token over all rollouts.
torch::Tensor first_token_freq(const RolloutBatch& b, int64_t V) {
  auto counts = torch::zeros({V}, torch::kDouble);
  auto first = b.response_ids.select(1, 0);
  for (int64_t n = 0; n < first.size(0); ++n) counts[first[n].item<int64_t>()] += 1.0;
  return counts / static_cast<double>(first.size(0));
}

TEST(Sampler, FrequenciesMatchSoftmaxOverTemperature) {
  for (bool device_draw : {false, true}) {
    SCOPED_TRACE(device_draw ? "device draw" : "host draw");
    CausalLM model = load_fixture("qwen2-tiny");
    const std::vector<int32_t> prompt = {1, 2, 3, 4};
    SamplingConfig cfg;
    cfg.device_draw = device_draw;
    cfg.temperature = 0.5;  // sharpen the near-uniform tiny model so counts are informative
    cfg.max_new_tokens = 1;
    cfg.group_size = 20000;
    cfg.seed = 123;
    RolloutBatch b = generate(model, {prompt}, cfg, static_cast<const Tokenizer*>(nullptr));
    auto p = next_token_probs(model, prompt, cfg.temperature).to(torch::kDouble);
    auto f = first_token_freq(b, p.size(0));
    const double n = cfg.group_size;
    // Every token within 5 binomial standard deviations (+ a small floor for rare tokens).
    auto bound = 5.0 * torch::sqrt(p * (1 - p) / n) + 5.0 / n;
    auto excess = (f - p).abs() - bound;
    EXPECT_LE(excess.max().item<double>(), 0.0) << "worst token " << excess.argmax().item<int64_t>();
    // And the total variation distance is small (the expected TV here is ~0.05).
    EXPECT_LT(0.5 * (f - p).abs().sum().item<double>(), 0.08);
    // Pearson chi-square over tokens with expected count >= 5, against a loose quantile.
    auto expected = p * n;
    auto keep = expected >= 5.0;
    auto chi2 = ((f * n - expected).pow(2) / expected).index({keep}).sum().item<double>();
    const double dof = keep.sum().item<double>() - 1;
    EXPECT_LT(chi2, dof + 6.0 * std::sqrt(2.0 * dof)) << "dof " << dof;
  }
}

// The device-draw path (a re-seeded clone of the device's default generator, the draw on the
// device), run on the CPU: reproducible per seed, independent of the global generator's state,
// and the same mt19937 stream as the host path there.
TEST(Sampler, DeviceDrawIsSeededPerRequest) {
  CausalLM model = load_fixture("qwen3-tiny");
  SamplingConfig cfg;
  cfg.max_new_tokens = 10;
  cfg.group_size = 4;
  cfg.seed = 42;
  auto host = generate(model, kRagged, cfg, static_cast<const Tokenizer*>(nullptr));
  cfg.device_draw = true;
  torch::manual_seed(1);
  auto a = generate(model, kRagged, cfg, static_cast<const Tokenizer*>(nullptr));
  torch::manual_seed(2);
  auto b = generate(model, kRagged, cfg, static_cast<const Tokenizer*>(nullptr));
  EXPECT_TRUE(torch::equal(a.response_ids, b.response_ids));
  EXPECT_TRUE(torch::equal(a.logp, b.logp));
  EXPECT_TRUE(torch::equal(a.response_ids, host.response_ids));
  cfg.seed = 43;
  auto c = generate(model, kRagged, cfg, static_cast<const Tokenizer*>(nullptr));
  EXPECT_FALSE(torch::equal(a.response_ids, c.response_ids));
}

TEST(Sampler, TopKAndTopPStayInsideAllowedSet) {
  CausalLM model = load_fixture("llama-tiny");
  const std::vector<int32_t> prompt = {7, 1, 9};
  auto p = next_token_probs(model, prompt, 1.0);  // (V)
  // top-k = 5: the 5 most likely tokens.
  auto topk = std::get<1>(p.topk(5));
  std::set<int64_t> allowed_k;
  for (int64_t i = 0; i < 5; ++i) allowed_k.insert(topk[i].item<int64_t>());
  // top-p = 0.05: the smallest most-likely prefix whose mass reaches 0.05 (computed descending).
  auto [sp, order] = p.sort(/*dim=*/0, /*descending=*/true);
  std::set<int64_t> allowed_p;
  double mass = 0;
  for (int64_t i = 0; i < sp.size(0) && mass < 0.05; ++i) {
    mass += sp[i].item<double>();
    allowed_p.insert(order[i].item<int64_t>());
  }
  ASSERT_GT(allowed_p.size(), 1u);
  for (int which = 0; which < 2; ++which) {
    SamplingConfig cfg;
    cfg.max_new_tokens = 1;
    cfg.group_size = 3000;
    cfg.seed = 5;
    if (which == 0) cfg.top_k = 5; else cfg.top_p = 0.05;
    const auto& allowed = which == 0 ? allowed_k : allowed_p;
    RolloutBatch b = generate(model, {prompt}, cfg, static_cast<const Tokenizer*>(nullptr));
    std::set<int64_t> seen;
    for (int64_t n = 0; n < b.size(); ++n) seen.insert(b.response_ids[n][0].item<int64_t>());
    for (int64_t t : seen) EXPECT_TRUE(allowed.count(t)) << "token " << t << " outside the allowed set";
    EXPECT_EQ(seen.size(), allowed.size()) << "every allowed token should appear in 3000 draws";
  }
}

// ---- stop strings, seeds, errors -----------------------------------------------------------

// Independent expectation of a stop string: the length of the first prefix of toks whose whole
// decoded text contains stop (0 if none does).
size_t first_prefix_holding(const std::vector<int32_t>& toks, const DecodeFn& decode,
                            const std::string& stop) {
  for (size_t k = 1; k <= toks.size(); ++k)
    if (decode({toks.begin(), toks.begin() + k}).find(stop) != std::string::npos) return k;
  return 0;
}

TEST(Sampler, StopStringAcrossTokenBoundary) {
  CausalLM model = load_fixture("qwen2-tiny");
  // A toy decoder: token id -> its decimal digits followed by ';'.
  DecodeFn decode = [](const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t id : ids) s += std::to_string(id) + ";";
    return s;
  };
  SamplingConfig cfg;
  cfg.temperature = 0.0;
  cfg.max_new_tokens = 20;
  RolloutBatch full = generate(model, {{1, 2, 3}}, cfg, decode);
  auto toks = full.response_tokens(0);
  ASSERT_GE(toks.size(), 6u);
  // The stop string spans the boundary between tokens 4 and 5: last digit + ';' + first digit.
  const std::string a = std::to_string(toks[4]), c = std::to_string(toks[5]);
  const std::string stop = a.substr(a.size() - 1) + ";" + c.substr(0, 1);
  const size_t expect_len = first_prefix_holding(toks, decode, stop);
  ASSERT_GT(expect_len, 0u);
  cfg.stop_strings = {stop};
  RolloutBatch b = generate(model, {{1, 2, 3}}, cfg, decode);
  EXPECT_EQ(b.finish[0], FinishReason::kStopString);
  auto got = b.response_tokens(0);
  EXPECT_EQ(got, std::vector<int32_t>(toks.begin(), toks.begin() + expect_len)) << "stop '" << stop << "'";
}

// The stop check decodes only the row's tail; tokens that decode to nothing widen the window, so
// a stop string spread over many tokens is still found where the full text first holds it.
TEST(Sampler, StopStringOverTokensWithEmptyText) {
  CausalLM model = load_fixture("qwen2-tiny");
  DecodeFn decode = [](const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t id : ids) s += id % 3 == 0 ? "" : (id % 3 == 1 ? "a" : "b");
    return s;
  };
  SamplingConfig cfg;
  cfg.temperature = 1.0;
  cfg.seed = 3;
  cfg.max_new_tokens = 60;
  RolloutBatch full = generate(model, {{1, 2, 3}}, cfg, decode);
  auto toks = full.response_tokens(0);
  const std::string text = decode(toks);
  ASSERT_GE(text.size(), 12u);
  const std::string stop = text.substr(6, 6);  // 6 characters from the middle of the text
  const size_t expect_len = first_prefix_holding(toks, decode, stop);
  ASSERT_GT(expect_len, 0u);
  cfg.stop_strings = {stop};
  RolloutBatch b = generate(model, {{1, 2, 3}}, cfg, decode);
  EXPECT_EQ(b.finish[0], FinishReason::kStopString);
  EXPECT_EQ(b.response_tokens(0), std::vector<int32_t>(toks.begin(), toks.begin() + expect_len));
}

TEST(Sampler, SameSeedSameRollouts) {
  CausalLM model = load_fixture("qwen3-tiny");
  SamplingConfig cfg;
  cfg.max_new_tokens = 10;
  cfg.group_size = 4;
  cfg.seed = 42;
  auto a = generate(model, kRagged, cfg, static_cast<const Tokenizer*>(nullptr));
  auto b = generate(model, kRagged, cfg, static_cast<const Tokenizer*>(nullptr));
  EXPECT_TRUE(torch::equal(a.response_ids, b.response_ids));
  EXPECT_TRUE(torch::equal(a.logp, b.logp));
  cfg.seed = 43;
  auto c = generate(model, kRagged, cfg, static_cast<const Tokenizer*>(nullptr));
  EXPECT_FALSE(torch::equal(a.response_ids, c.response_ids));
}

TEST(Sampler, BadInputsAreClearErrors) {
  CausalLM model = load_fixture("qwen2-tiny");
  auto expect_error = [&](const SamplingConfig& cfg, const std::vector<std::vector<int32_t>>& prompts,
                          const std::string& needle) {
    try {
      generate(model, prompts, cfg, static_cast<const Tokenizer*>(nullptr));
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  SamplingConfig ok;
  ok.max_new_tokens = 2;
  auto with = [&](auto f) { SamplingConfig c = ok; f(c); return c; };
  expect_error(with([](auto& c) { c.temperature = -0.5; }), {{1}}, "temperature");
  expect_error(with([](auto& c) { c.top_p = 0.0; }), {{1}}, "top_p");
  expect_error(with([](auto& c) { c.top_p = 1.5; }), {{1}}, "top_p");
  expect_error(with([](auto& c) { c.top_k = -1; }), {{1}}, "top_k");
  expect_error(ok, {{1, 2}, {}}, "prompt 1 is empty");
  expect_error(ok, {}, "no prompts");
  expect_error(with([](auto& c) { c.stop_strings = {"x"}; }), {{1}}, "tokenizer");
  expect_error(ok, {std::vector<int32_t>(256, 1)}, "context");
}

TEST(Sampler, TokenBudgetBeyondContextIsClippedWithWarning) {
  CausalLM model = load_fixture("qwen2-tiny");  // max_position_embeddings 256
  SamplingConfig cfg;
  cfg.temperature = 0.0;
  cfg.max_new_tokens = 50;
  RolloutBatch b = generate(model, {std::vector<int32_t>(250, 4)}, cfg, static_cast<const Tokenizer*>(nullptr));
  ASSERT_EQ(b.warnings.size(), 1u);
  EXPECT_NE(b.warnings[0].find("clipped to 6"), std::string::npos) << b.warnings[0];
  EXPECT_EQ(b.response_ids.size(1), 6);
  EXPECT_EQ(b.finish[0], FinishReason::kLength);
}

}  // namespace
}  // namespace popo
