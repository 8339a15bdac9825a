// The C++ half of the model oracle (tests/oracle/test_models.py): for every model folder under
// $POPO_ORACLE_MODELS_DIR, written by transformers at test time with its reference.safetensors,
// popo's logits, token log-probs and greedy continuation must match transformers', and popo saves
// its own copy into <model>/popo_saved for transformers to load back. Without the variable (an
// ordinary ctest run) the test is skipped: the oracle run sets it.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/io.h"
#include "model/causal_lm.h"
#include "model/load.h"
#include "model/safetensors.h"
#include "torch_test_util.h"

namespace popo {
namespace {

namespace fs = std::filesystem;
using test::tensors_close;

// Returns the greedy continuation of prompt (1, P) for n tokens, decoding with the KV cache.
torch::Tensor greedy(CausalLM& model, const torch::Tensor& prompt, int64_t n) {
  torch::NoGradGuard no_grad;
  const int64_t P = prompt.size(1);
  KVCache cache = model->make_cache(/*batch=*/1, /*max_len=*/P + n);
  auto logits = model->forward(prompt, torch::ones({1, P}, torch::kLong), &cache);  // (1, P, V)
  std::vector<int64_t> out(prompt.data_ptr<int64_t>(), prompt.data_ptr<int64_t>() + P);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t next = logits[0][-1].argmax().item<int64_t>();
    out.push_back(next);
    auto ids = torch::tensor({next}, torch::kLong).view({1, 1});
    logits = model->forward(ids, torch::ones({1, cache.length() + 1}, torch::kLong), &cache);
  }
  return torch::tensor(out, torch::kLong).view({1, -1});
}

void check_model(const fs::path& dir) {
  SCOPED_TRACE(dir.string());
  const auto meta = nlohmann::json::parse(read_file((dir / "reference.json").string()));
  const double fp32_tol = meta.at("fp32_tol").get<double>();
  auto ref = read_safetensors((dir / "reference.safetensors").string());
  auto ids = ref.at("input_ids"), mask = ref.at("attention_mask");  // (B, T), left-padded rows
  auto real = mask.to(torch::kBool);                                 // (B, T)

  CausalLM model = load_model(dir.string(), torch::kFloat, torch::kCPU);
  {
    torch::NoGradGuard no_grad;
    auto logits = model->forward(ids, mask);  // (B, T, V)
    EXPECT_TRUE(tensors_close(logits.index({real}), ref.at("logits").index({real}), fp32_tol)) << "logits";
    auto logp = torch::log_softmax(logits, -1);
    auto next = ids.narrow(1, 1, ids.size(1) - 1).unsqueeze(-1);                 // (B, T-1, 1)
    auto tok = logp.narrow(1, 0, ids.size(1) - 1).gather(-1, next).squeeze(-1);  // (B, T-1)
    auto from_real = mask.narrow(1, 0, ids.size(1) - 1).to(torch::kBool);
    EXPECT_TRUE(tensors_close(tok.index({from_real}), ref.at("token_logprobs").index({from_real}), fp32_tol))
        << "token log-probs";
  }
  auto prompt = ref.at("greedy_prompt"), expected = ref.at("greedy_output");
  auto got = greedy(model, prompt, expected.size(1) - prompt.size(1));
  EXPECT_TRUE(torch::equal(got, expected)) << "greedy: got " << got << "\nexpected " << expected;

  const bool bf16 = meta.at("weights_dtype").get<std::string>() == "bfloat16";
  CausalLM native = bf16 ? load_model(dir.string(), torch::kBFloat16, torch::kCPU) : model;
  if (bf16) {
    torch::NoGradGuard no_grad;
    auto logits = native->forward(ids, mask).to(torch::kFloat);  // (B, T, V) computed in bf16
    EXPECT_TRUE(tensors_close(logits.index({real}), ref.at("logits_bf16").index({real}),
                              meta.at("bf16_tol").get<double>()))
        << "bf16 logits";
  }
  save_model(native, (dir / "popo_saved").string());  // in the checkpoint's own dtype
}

TEST(OracleModels, MatchTransformersAndSaveForReload) {
  const char* root = std::getenv("POPO_ORACLE_MODELS_DIR");
  if (root == nullptr) GTEST_SKIP() << "POPO_ORACLE_MODELS_DIR unset: run by tests/oracle/test_models.py";
  int n = 0;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (!fs::exists(entry.path() / "reference.json")) continue;
    check_model(entry.path());
    ++n;
  }
  EXPECT_GT(n, 0) << "no model folders under " << root;
}

}  // namespace
}  // namespace popo
