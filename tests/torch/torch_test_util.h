// Helpers for the torch test suites: tensor comparison that reports max-abs-diff and the first
// bad index (llm.c's checker), fixture model folders, and scratch folders.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <sstream>
#include <string>

#include "model/config.h"
#include "sampling/rollout_batch.h"
#include "train/trainer.h"
#include "test_util.h"

namespace popo::test {

// Returns a tiny random-init Qwen2 config (V 32, C 16, 2 layers, 4/2 heads) for learner tests.
// The learner tests' batch: 3 prompts x G = 2 (6 rollouts), prompts of width 3, right-padded
// responses of width 4 with lengths 4 2 | 3 4 | 1 3, behaviour log-probs in (-1, 0], finish
// reasons length/stop by row (rows 0 and 3 ran to the budget). pad_group1_prompt left-pads the
// prompt of group 1 to 2 tokens. Seeded: the same tensors on every call.
inline RolloutBatch rollouts_3x2(bool pad_group1_prompt) {
  torch::manual_seed(5);
  RolloutBatch b;
  b.num_prompts = 3;
  b.group_size = 2;
  b.prompt_ids = torch::randint(1, 32, {6, 3}, torch::kLong);
  b.prompt_mask = torch::ones({6, 3}, torch::kLong);
  if (pad_group1_prompt) {
    b.prompt_mask.index_put_({torch::indexing::Slice(2, 4), 0}, 0);
    b.prompt_ids.mul_(b.prompt_mask);
  }
  b.response_ids = torch::randint(1, 32, {6, 4}, torch::kLong);
  torch::Tensor len = torch::tensor({4, 2, 3, 4, 1, 3});
  b.response_mask = (torch::arange(4).unsqueeze(0) < len.unsqueeze(1)).to(torch::kFloat);
  b.response_ids.mul_(b.response_mask.to(torch::kLong));
  b.logp = -torch::rand({6, 4}) * b.response_mask;
  b.finish = {FinishReason::kLength, FinishReason::kStop, FinishReason::kStop,
              FinishReason::kLength, FinishReason::kStop, FinishReason::kStop};
  b.group = {0, 0, 1, 1, 2, 2};
  return b;
}

inline ModelConfig tiny_learner_config() {
  ModelConfig c;
  c.model_type = "qwen2";
  c.vocab_size = 32;
  c.hidden_size = 16;
  c.intermediate_size = 32;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 4;
  c.max_position_embeddings = 64;
  c.attention_bias = true;
  return c;
}

// Returns success when |a - b| <= tol everywhere (same shape), otherwise a message with the
// max-abs-diff, the first index over tol and both values there.
inline ::testing::AssertionResult tensors_close(const torch::Tensor& a, const torch::Tensor& b, double tol) {
  if (a.sizes() != b.sizes()) {
    std::ostringstream os;
    os << "shape " << a.sizes() << " vs " << b.sizes();
    return ::testing::AssertionFailure() << os.str();
  }
  auto diff = (a.to(torch::kDouble) - b.to(torch::kDouble)).abs();
  const double max_diff = diff.numel() ? diff.max().item<double>() : 0.0;
  if (max_diff <= tol) return ::testing::AssertionSuccess();
  auto bad = (diff > tol).nonzero();
  auto first = bad[0];
  std::ostringstream os;
  os << "max-abs-diff " << max_diff << " > tol " << tol << "; first bad index [";
  for (int64_t i = 0; i < first.numel(); ++i) os << (i ? ", " : "") << first[i].item<int64_t>();
  auto flat = (first * torch::tensor(a.strides().vec())).sum().item<int64_t>();
  (void)flat;
  std::vector<at::indexing::TensorIndex> idx;
  for (int64_t i = 0; i < first.numel(); ++i) idx.emplace_back(first[i].item<int64_t>());
  os << "]: " << a.index(idx).item<double>() << " vs " << b.index(idx).item<double>() << " ("
     << bad.size(0) << " elements over tol)";
  return ::testing::AssertionFailure() << os.str();
}

// Returns the fixture model folder hf-reference/models/<name>.
inline std::string model_fixture(const std::string& name) {
  return fixture_path("hf-reference/models/" + name);
}

// Returns a fresh empty scratch folder under the system temp dir.
inline std::string scratch_dir(const std::string& name) {
  auto p = std::filesystem::temp_directory_path() /
           ("popo_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

// Returns the options of a test run_training(): no progress lines, no info lines.
inline TrainOptions quiet() {
  TrainOptions o;
  o.show_progress = false;
  o.log_info = false;
  return o;
}

}  // namespace popo::test
