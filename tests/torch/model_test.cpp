// Golden tests of the model layer against Hugging Face transformers: logits, log-probs and greedy
// continuations from tests/fixtures/hf-reference/models/*, the KV cache against the full
// forward pass, config spellings, save/reload, and the errors for bad model folders.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io.h"
#include "model/causal_lm.h"
#include "model/load.h"
#include "model/safetensors.h"
#include "torch_test_util.h"

namespace popo {
namespace {

namespace fs = std::filesystem;
using test::model_fixture;
using test::tensors_close;

const char* const kModels[] = {"qwen2-tiny", "qwen2-tiny-tied-bf16", "qwen3-tiny", "llama-tiny"};
constexpr double kTol = 1e-4;

class HfReference : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    dir_ = model_fixture(GetParam());
    ASSERT_TRUE(fs::exists(dir_)) << "fixture missing: " << dir_;
    ref_ = read_safetensors(dir_ + "/reference.safetensors");
    model_ = load_model(dir_, torch::kFloat, torch::kCPU);
  }
  std::string dir_;
  std::map<std::string, at::Tensor> ref_;
  CausalLM model_{nullptr};
};

// Returns the greedy continuation of prompt (1, P) for n tokens, decoding with the KV cache.
torch::Tensor greedy_with_cache(CausalLM& model, const torch::Tensor& prompt, int64_t n) {
  torch::NoGradGuard no_grad;
  const int64_t P = prompt.size(1);
  KVCache cache = model->make_cache(/*batch=*/1, /*max_len=*/P + n);
  auto logits = model->forward(prompt, torch::ones({1, P}, torch::kLong), &cache);  // (1, P, V)
  std::vector<int64_t> out(prompt.data_ptr<int64_t>(), prompt.data_ptr<int64_t>() + P);
  for (int64_t i = 0; i < n; ++i) {
    int64_t next = logits[0][-1].argmax().item<int64_t>();
    out.push_back(next);
    auto ids = torch::tensor({next}, torch::kLong).view({1, 1});
    logits = model->forward(ids, torch::ones({1, cache.length() + 1}, torch::kLong), &cache);
  }
  return torch::tensor(out, torch::kLong).view({1, -1});
}

TEST_P(HfReference, LogitsMatchAtRealPositions) {
  torch::NoGradGuard no_grad;
  auto ids = ref_.at("input_ids"), mask = ref_.at("attention_mask");
  auto logits = model_->forward(ids, mask);  // (B, T, V)
  auto real = mask.to(torch::kBool);         // (B, T)
  EXPECT_TRUE(tensors_close(logits.index({real}), ref_.at("logits").index({real}), kTol));
  EXPECT_FALSE(logits.isnan().any().item<bool>()) << "NaN at pad positions";
}

TEST_P(HfReference, TokenLogprobsMatch) {
  torch::NoGradGuard no_grad;
  auto ids = ref_.at("input_ids"), mask = ref_.at("attention_mask");
  auto logp = torch::log_softmax(model_->forward(ids, mask), -1);             // (B, T, V)
  auto next = ids.narrow(1, 1, ids.size(1) - 1).unsqueeze(-1);                 // (B, T-1, 1)
  auto tok = logp.narrow(1, 0, ids.size(1) - 1).gather(-1, next).squeeze(-1);  // (B, T-1)
  auto real = mask.narrow(1, 0, ids.size(1) - 1).to(torch::kBool);             // predicted from a real token
  EXPECT_TRUE(tensors_close(tok.index({real}), ref_.at("token_logprobs").index({real}), kTol));
}

TEST_P(HfReference, GreedyContinuationWithCacheIsIdentical) {
  auto prompt = ref_.at("greedy_prompt");
  auto expected = ref_.at("greedy_output");
  auto got = greedy_with_cache(model_, prompt, expected.size(1) - prompt.size(1));
  EXPECT_TRUE(torch::equal(got, expected)) << "got " << got << "\nexpected " << expected;
}

TEST_P(HfReference, IncrementalCacheLogitsEqualFullForward) {
  torch::NoGradGuard no_grad;
  auto ids = ref_.at("input_ids"), mask = ref_.at("attention_mask");  // left-padded rows
  const int64_t B = ids.size(0), T = ids.size(1), split = 9;
  auto full = model_->forward(ids, mask);  // (B, T, V)
  KVCache cache = model_->make_cache(B, T);
  std::vector<torch::Tensor> parts;
  parts.push_back(model_->forward(ids.narrow(1, 0, split), mask.narrow(1, 0, split), &cache));
  for (int64_t t = split; t < T; ++t) {
    parts.push_back(model_->forward(ids.narrow(1, t, 1), mask.narrow(1, 0, t + 1), &cache));
  }
  auto inc = torch::cat(parts, 1);
  auto real = mask.to(torch::kBool);
  EXPECT_TRUE(tensors_close(inc.index({real}), full.index({real}), 1e-5));
}

TEST_P(HfReference, TopLevelRopeThetaGivesSameLogits) {
  torch::NoGradGuard no_grad;
  auto j = nlohmann::json::parse(read_file(dir_ + "/config.json"));
  ASSERT_TRUE(j.contains("rope_parameters"));
  j["rope_theta"] = j["rope_parameters"]["rope_theta"];
  j.erase("rope_parameters");
  const std::string copy = test::scratch_dir(std::string("rope_") + GetParam());
  write_file_atomic(copy + "/config.json", j.dump());
  fs::copy_file(dir_ + "/model.safetensors", copy + "/model.safetensors");
  CausalLM m2 = load_model(copy, torch::kFloat, torch::kCPU);
  EXPECT_EQ(m2->config().rope_theta, model_->config().rope_theta);
  auto ids = ref_.at("input_ids"), mask = ref_.at("attention_mask");
  EXPECT_TRUE(torch::equal(m2->forward(ids, mask), model_->forward(ids, mask)));
  fs::remove_all(copy);
}

TEST_P(HfReference, SaveReloadIsBitwiseEqual) {
  // Round trip in the checkpoint's own dtype (bf16 for the bf16 fixture).
  auto file_dtype = SafetensorsFile::open(dir_ + "/model.safetensors").entry("model.norm.weight").dtype;
  auto dtype = file_dtype == "BF16" ? torch::kBFloat16 : torch::kFloat;
  CausalLM m = load_model(dir_, dtype, torch::kCPU);
  const std::string out = test::scratch_dir(std::string("save_") + GetParam());
  save_model(m, out);
  CausalLM back = load_model(out, dtype, torch::kCPU);
  EXPECT_EQ(back->config().to_json(), m->config().to_json());
  auto a = m->named_parameters(), b = back->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& item : a) {
    ASSERT_TRUE(b.contains(item.key())) << item.key();
    EXPECT_TRUE(torch::equal(item.value(), b[item.key()])) << item.key();
  }
  // The saved file holds exactly the fixture's tensor names (tied: no lm_head.weight).
  EXPECT_EQ(SafetensorsFile::open(out + "/model.safetensors").names(),
            SafetensorsFile::open(dir_ + "/model.safetensors").names());
  fs::remove_all(out);
}

INSTANTIATE_TEST_SUITE_P(Models, HfReference, ::testing::ValuesIn(kModels),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (auto& ch : s) if (ch == '-') ch = '_';
                           return s;
                         });

// ---- the model oracle: models written by transformers at test time ------------------------
// The C++ half of tests/oracle/test_models.py: for every model folder under
// $POPO_ORACLE_MODELS_DIR, written by transformers at test time with its reference.safetensors,
// popo's logits, token log-probs and greedy continuation must match transformers', and popo saves
// its own copy into <model>/popo_saved for transformers to load back. Without the variable (an
// ordinary ctest run) the test is skipped: the oracle run sets it.

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
  auto got = greedy_with_cache(model, prompt, expected.size(1) - prompt.size(1));
  EXPECT_TRUE(torch::equal(got, expected)) << "greedy: got " << got << "\nexpected " << expected;

  const bool bf16 = meta.at("weights_dtype").get<std::string>() == "bfloat16";
  CausalLM native = bf16 ? load_model(dir.string(), torch::kBFloat16, torch::kCPU) : model;
  if (bf16) {
    // popo's bf16 forward is no further from the fp32 logits than factor x transformers' bf16 is.
    torch::NoGradGuard no_grad;
    auto logits = native->forward(ids, mask).to(torch::kFloat);  // (B, T, V) computed in bf16
    const double popo_err =
        (logits.index({real}) - ref.at("logits").index({real})).abs().max().item<double>();
    const double hf_err = meta.at("hf_bf16_err").get<double>();
    std::printf("%s: bf16 vs fp32 logits, max abs: popo %.4g, transformers %.4g\n",
                dir.filename().c_str(), popo_err, hf_err);
    EXPECT_LE(popo_err, meta.at("bf16_factor").get<double>() * hf_err) << "bf16 logits";
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

TEST(ModelConfig, ParameterCountMatchesModule) {
  for (const char* name : kModels) {
    auto cfg = ModelConfig::from_file(model_fixture(name) + "/config.json");
    CausalLM m(cfg);
    int64_t n = 0;
    for (const auto& p : m->parameters()) n += p.numel();
    EXPECT_EQ(cfg.num_parameters(), n) << name;
  }
}

TEST(ModelConfig, FieldsFromFixtures) {
  auto q3 = ModelConfig::from_file(model_fixture("qwen3-tiny") + "/config.json");
  EXPECT_EQ(q3.head_dim, 32);  // explicit, not hidden/heads = 16
  EXPECT_TRUE(q3.tie_word_embeddings);
  EXPECT_FALSE(q3.attention_bias);
  auto q2 = ModelConfig::from_file(model_fixture("qwen2-tiny") + "/config.json");
  EXPECT_TRUE(q2.attention_bias);
  EXPECT_EQ(q2.head_dim, 16);
  auto ll = ModelConfig::from_file(model_fixture("llama-tiny") + "/config.json");
  EXPECT_EQ(ll.eos_token_ids, std::vector<int64_t>{2});
  EXPECT_EQ(ll.bos_token_id, 1);
  EXPECT_EQ(ll.pad_token_id, -1);
  EXPECT_EQ(ModelConfig::from_json(q3.to_json(), "x").to_json(), q3.to_json());
}

TEST(ModelConfig, EosTokenIdAsList) {
  auto j = nlohmann::json::parse(read_file(model_fixture("qwen2-tiny") + "/config.json"));
  j["eos_token_id"] = {151643, 151645};
  EXPECT_EQ(ModelConfig::from_json(j, "c").eos_token_ids, (std::vector<int64_t>{151643, 151645}));
}

TEST(ModelConfig, NonDefaultRopeTypeNamesTheKey) {
  auto j = nlohmann::json::parse(read_file(model_fixture("qwen2-tiny") + "/config.json"));
  j["rope_parameters"]["rope_type"] = "yarn";
  try {
    ModelConfig::from_json(j, "cfg.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rope_parameters.rope_type"), std::string::npos) << e.what();
  }
}

// ---- bad model folders: each error names the file ------------------------------------------

// Returns a scratch copy of the qwen2-tiny fixture for corrupting.
std::string fixture_copy(const std::string& tag) {
  const std::string dir = test::scratch_dir(tag);
  for (const char* f : {"config.json", "model.safetensors"}) {
    fs::copy_file(model_fixture("qwen2-tiny") + "/" + f, dir + "/" + f);
  }
  return dir;
}

void expect_load_error(const std::string& dir, const std::vector<std::string>& needles) {
  try {
    load_model(dir, torch::kFloat, torch::kCPU);
    ADD_FAILURE() << "load_model(" << dir << ") did not throw";
  } catch (const Error& e) {
    for (const auto& n : needles) {
      EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << "'" << n << "' not in: " << e.what();
    }
  }
}

TEST(LoadModelErrors, MissingFolder) { expect_load_error("/nonexistent/popo-model", {"/nonexistent/popo-model"}); }

TEST(LoadModelErrors, UnknownModelType) {
  auto dir = fixture_copy("unknown_type");
  auto j = nlohmann::json::parse(read_file(dir + "/config.json"));
  j["model_type"] = "gpt2";
  write_file_atomic(dir + "/config.json", j.dump());
  expect_load_error(dir, {dir + "/config.json", "gpt2", "qwen2, qwen3, llama"});
  fs::remove_all(dir);
}

TEST(LoadModelErrors, TruncatedSafetensors) {
  auto dir = fixture_copy("truncated");
  const std::string path = dir + "/model.safetensors";
  std::string bytes = read_file(path);
  for (size_t keep : {size_t{5}, size_t{200}, bytes.size() - 100}) {
    write_file_atomic(path, bytes.substr(0, keep));
    expect_load_error(dir, {path});
  }
  fs::remove_all(dir);
}

TEST(LoadModelErrors, CorruptHeader) {
  auto dir = fixture_copy("corrupt");
  const std::string path = dir + "/model.safetensors";
  std::string bytes = read_file(path);
  bytes[8] = 'X';  // the header's opening brace
  write_file_atomic(path, bytes);
  expect_load_error(dir, {path, "corrupt"});
  fs::remove_all(dir);
}

TEST(LoadModelErrors, WrongShapeNamesTensorExpectedAndGot) {
  auto dir = fixture_copy("wrong_shape");
  auto tensors = read_safetensors(dir + "/model.safetensors");
  std::vector<std::pair<std::string, at::Tensor>> list(tensors.begin(), tensors.end());
  for (auto& [name, t] : list) {
    if (name == "model.layers.1.mlp.up_proj.weight") t = torch::zeros({170, 64});
  }
  write_safetensors(dir + "/model.safetensors", list);
  expect_load_error(dir, {"model.layers.1.mlp.up_proj.weight", "[170, 64]", "[176, 64]", "model.safetensors"});
  fs::remove_all(dir);
}

TEST(LoadModelErrors, MissingTensorIsNamed) {
  auto dir = fixture_copy("missing_tensor");
  auto tensors = read_safetensors(dir + "/model.safetensors");
  tensors.erase("model.layers.0.self_attn.k_proj.bias");
  write_safetensors(dir + "/model.safetensors", {tensors.begin(), tensors.end()});
  expect_load_error(dir, {"missing tensor 'model.layers.0.self_attn.k_proj.bias'", "[32]", "model.safetensors"});
  fs::remove_all(dir);
}

TEST(Safetensors, ShardedIndexLoadsSameWeights) {
  const std::string dir = test::scratch_dir("sharded");
  fs::copy_file(model_fixture("llama-tiny") + "/config.json", dir + "/config.json");
  auto tensors = read_safetensors(model_fixture("llama-tiny") + "/model.safetensors");
  std::vector<std::pair<std::string, at::Tensor>> a, b;
  nlohmann::json map;
  for (const auto& [name, t] : tensors) {
    const bool first = name.find("layers.1") == std::string::npos;
    (first ? a : b).emplace_back(name, t);
    map[name] = first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  write_safetensors(dir + "/model-00001-of-00002.safetensors", a);
  write_safetensors(dir + "/model-00002-of-00002.safetensors", b);
  write_file_atomic(dir + "/model.safetensors.index.json", nlohmann::json{{"weight_map", map}}.dump());
  CausalLM sharded = load_model(dir, torch::kFloat, torch::kCPU);
  CausalLM single = load_model(model_fixture("llama-tiny"), torch::kFloat, torch::kCPU);
  for (const auto& item : single->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), sharded->named_parameters()[item.key()])) << item.key();
  }
  fs::remove_all(dir);
}

TEST(CopyWeights, DeepCopyIsIndependent) {
  auto cfg = ModelConfig::from_file(model_fixture("qwen3-tiny") + "/config.json");
  CausalLM a = make_random_model(cfg, /*seed=*/1);
  CausalLM b = make_random_model(cfg, /*seed=*/2);
  copy_weights(b, a);
  for (const auto& item : a->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), b->named_parameters()[item.key()])) << item.key();
  }
  {
    torch::NoGradGuard g;
    a->model->norm->weight.add_(1.0);
  }
  EXPECT_FALSE(torch::equal(a->model->norm->weight, b->model->norm->weight));
  // HF init statistics: std 0.02 on the embedding matrix.
  EXPECT_NEAR(a->model->embed_tokens->weight.std().item<double>(), 0.02, 0.002);
}

}  // namespace
}  // namespace popo

namespace popo {
namespace {

// The bf16 compute path (the CUDA default dtype) runs on CPU too: logits stay near the fp32
// reference (bf16 has ~3 significant digits) and nothing is NaN at pad positions.
TEST(Bf16Compute, LogitsNearFp32Reference) {
  const std::string dir = test::model_fixture("qwen2-tiny-tied-bf16");
  auto ref = read_safetensors(dir + "/reference.safetensors");
  CausalLM m = load_model(dir, torch::kBFloat16, torch::kCPU);
  torch::NoGradGuard no_grad;
  auto logits = m->forward(ref.at("input_ids"), ref.at("attention_mask"));  // (B, T, V) bf16
  EXPECT_EQ(logits.scalar_type(), torch::kBFloat16);
  EXPECT_FALSE(logits.isnan().any().item<bool>());
  auto real = ref.at("attention_mask").to(torch::kBool);
  EXPECT_TRUE(test::tensors_close(logits.to(torch::kFloat).index({real}), ref.at("logits").index({real}), 1e-2));  // logits std 0.17
}

}  // namespace
}  // namespace popo
