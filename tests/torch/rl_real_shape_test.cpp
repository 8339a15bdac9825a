// The learner at a real model's shape: a random Qwen2.5-0.5B-shaped model (hidden 896, 14 heads /
// 2 KV heads of 64, SwiGLU 4864, the 151936-token vocabulary, tied embeddings) in bf16 on the
// CPU, for a few POPO and GRPO steps on tiny batches: finite losses, the bf16 siamese moving
// through its fp32 masters, and the chunked log-probs keeping the peak memory of a step's
// forward/backward bounded (measured as the growth of the peak RSS, VmHWM). The real model has
// 24 layers; the test keeps kLayers of them so that it stays inside CI's time (vocabulary and
// hidden size, which size the LM head and the log-probs, are the real ones).
// Filter with --gtest_filter='RealShape*' (ctest -R RealShape).
#include <gtest/gtest.h>
#include <malloc.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "model/causal_lm.h"
#include "model/load.h"
#include "train/learner.h"

namespace popo {
namespace {

constexpr int64_t kLayers = 2;  // of Qwen2.5-0.5B's 24 (time, not memory, decides; see above)

ModelConfig qwen05b_shape() {
  ModelConfig c;
  c.model_type = "qwen2";
  c.vocab_size = 151936;
  c.hidden_size = 896;
  c.intermediate_size = 4864;
  c.num_hidden_layers = kLayers;
  c.num_attention_heads = 14;
  c.num_key_value_heads = 2;
  c.head_dim = 64;
  c.max_position_embeddings = 256;
  c.attention_bias = true;
  c.tie_word_embeddings = true;
  c.rope_theta = 1000000.0;
  c.rms_norm_eps = 1e-6;
  return c;
}

// Returns a /proc/self/status field in bytes ("VmRSS", "VmHWM"); -1 when unreadable.
double proc_status_bytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) * 1024.0;
  }
  return -1;
}

// Resets the peak RSS to the current RSS (Linux >= 4.0); returns false where not supported.
bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  return static_cast<bool>(out);
}

// 2 prompts x G = 2, prompts of 8 tokens, responses of kR tokens (one of 10); rewards 1 0 | 1 1.
constexpr int64_t kR = 16;
RolloutBatch real_batch() {
  torch::manual_seed(3);
  RolloutBatch b;
  b.num_prompts = 2;
  b.group_size = 2;
  b.prompt_ids = torch::randint(0, 151936, {4, 8}, torch::kLong);
  b.prompt_mask = torch::ones({4, 8}, torch::kLong);
  b.response_ids = torch::randint(0, 151936, {4, kR}, torch::kLong);
  b.response_mask = torch::ones({4, kR});
  b.response_mask.index_put_({1, torch::indexing::Slice(10, kR)}, 0.0);
  b.response_ids.mul_(b.response_mask.to(torch::kLong));
  b.logp = -torch::rand({4, kR}) * b.response_mask;
  return b;
}

OptimConfig real_lr() {
  OptimConfig oc;
  oc.lr = 1e-3;
  oc.warmup_ratio = 0;
  oc.schedule = LrSchedule::kConstant;
  return oc;
}

TEST(RealShape, Qwen05BShapedBf16PopoAndGrpoStepsOnCpu) {
  // Large buffers straight from mmap and back to the system when freed, at a fixed threshold:
  // glibc otherwise raises its mmap threshold after the first large free and serves later
  // buffers from a fragmented heap, so the peak-RSS growth below would measure the allocator's
  // history rather than the buffers a step holds.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  const auto t0 = std::chrono::steady_clock::now();
  CausalLM policy = make_random_model(qwen05b_shape(), /*seed=*/1);
  policy->to(torch::kBFloat16);
  RolloutBatch batch = real_batch();
  torch::Tensor rewards = torch::tensor({1.0f, 0.0f, 1.0f, 1.0f});
  const double n_tokens = batch.response_mask.sum().item<double>();

  // POPO: 2 steps; the siamese is bf16 with fp32 masters.
  {
    CausalLM siamese = make_random_model(qwen05b_shape(), /*seed=*/1);
    siamese->to(torch::kBFloat16);
    torch::manual_seed(9);
    Predictor predictor(896, 256, 2);
    AlgoConfig algo;
    algo.popo.momentum = 0.5;  // an EMA step above half a bf16 ulp within two updates
    LearnerConfig lc;
    lc.update.micro_batch_size = 2;
    lc.update.logprob_chunk_tokens = 16;
    lc.response_budget = kR;
    Learner learner(policy, predictor, algo, real_lr(), lc, siamese);
    // The tied embedding / LM head: every row gets a gradient through the softmax.
    const torch::Tensor xi0 = siamese->parameters()[0].detach().clone();  // (V, C)
    for (int k = 0; k < 2; ++k) {
      LearnerStep st = learner.step(batch, rewards, learner.coefficients(batch, rewards));
      ASSERT_FALSE(st.skipped) << "POPO step " << k;
      EXPECT_TRUE(std::isfinite(st.metrics.at("loss"))) << k;
      EXPECT_TRUE(std::isfinite(st.metrics.at("grad_norm"))) << k;
      EXPECT_GT(st.metrics.at("popo/nll_loss"), 1.0) << k;  // ~ln V for a random model
    }
    const torch::Tensor xi = siamese->parameters()[0];
    const double moved = (xi != xi0).to(torch::kDouble).mean().item<double>();
    std::printf("[ RealShape ] POPO: share of the siamese embedding (V x C) that moved: %.3f\n", moved);
    EXPECT_GT(moved, 0.5);
  }

  // GRPO: 2 steps.
  {
    AlgoConfig algo;
    algo.name = Algorithm::kGrpo;
    LearnerConfig lc;
    lc.update.micro_batch_size = 2;
    lc.update.logprob_chunk_tokens = 16;
    lc.response_budget = kR;
    Learner learner(policy, nullptr, algo, real_lr(), lc);
    for (int k = 0; k < 2; ++k) {
      LearnerStep st = learner.step(batch, rewards, learner.coefficients(batch, rewards));
      ASSERT_FALSE(st.skipped) << "GRPO step " << k;
      EXPECT_TRUE(std::isfinite(st.metrics.at("loss"))) << k;
      EXPECT_TRUE(std::isfinite(st.metrics.at("grad_norm"))) << k;
    }

    // Peak memory of one forward/backward (gradients already allocated by the steps above):
    // chunks of 16 tokens against one chunk of every token of a micro-batch. The backward of
    // the LM head holds a fixed V x C fp32 accumulator (545 MB) and its bf16 rounding (272 MB)
    // whatever the chunk; the logits add chunk x V x 4 bytes a copy (2.4 MB a 16-token chunk,
    // 19 MB for the micro-batch's 32 tokens). The peak must stay within the fixed part plus
    // a few chunks, so it does not grow with the tokens of a micro-batch.
    auto peak_growth = [&](int64_t chunk) {
      LearnerConfig c = lc;
      c.update.logprob_chunk_tokens = chunk;
      Learner l(policy, nullptr, algo, real_lr(), c);
      torch::Tensor coef = l.coefficients(batch, rewards);
      if (!reset_peak_rss()) return -1.0;
      const double before = proc_status_bytes("VmRSS");
      l.accumulate_gradients(batch, rewards, coef);
      return proc_status_bytes("VmHWM") - before;
    };
    const double chunked = peak_growth(16), full = peak_growth(4096);
    if (chunked < 0) GTEST_SKIP() << "/proc/self/clear_refs not writable: peak RSS not measured";
    const double logits_mb = 2.0 * kR * 151936 * 4 / 1e6;
    const double head_grad_mb = 151936.0 * 896 * (4 + 2) / 1e6;
    std::printf("[ RealShape ] peak RSS growth of a forward/backward: chunk 16 tokens %.1f MB, "
                "one chunk %.1f MB (LM-head gradient buffers %.1f MB, fp32 logits of a "
                "micro-batch %.1f MB; %.0f response tokens)\n",
                chunked / 1e6, full / 1e6, head_grad_mb, logits_mb, n_tokens);
    // The bound is absolute: the fixed buffers, two micro-batch logits and 50 MB of slack. The
    // one-chunk figure is printed beside it, not compared: at these 58 tokens the two differ by
    // less than the allocator's noise (pages glibc keeps from the first run shrink the second's
    // growth; CI saw one chunk at 817 MB once and at 1040 MB another time).
    EXPECT_LT(chunked / 1e6, head_grad_mb + 2 * logits_mb + 50);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ RealShape ] %lld layers, 4 steps + 4 forward/backward in %.1f s, peak RSS %.0f MB\n",
              static_cast<long long>(kLayers), secs, proc_status_bytes("VmHWM") / 1e6);
}

}  // namespace
}  // namespace popo
