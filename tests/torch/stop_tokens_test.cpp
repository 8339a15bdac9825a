// resolve_stop_tokens (sampling/stop_tokens.h): the one stop-id rule of train, eval and generate,
// against hand-written expectations on a tokenizer whose special-token ids are known.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/io.h"
#include "model/config.h"
#include "sampling/stop_tokens.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/tokenizer.h"
#include "torch_test_util.h"

namespace popo {
namespace {

// A byte-level BPE of 260 tokens: 256 bytes, one merge, then the given specials (ids 257...).
Tokenizer tokenizer_with(const std::vector<std::string>& specials) {
  const std::string json = train_bpe_tokenizer_json({"aaaa aaaa"}, 257 + static_cast<int32_t>(specials.size()), specials);
  return Tokenizer::from_json(json, "test tokenizer");
}

TEST(StopTokens, ConfigThenGenerationConfigThenChatEndTokens) {
  const Tokenizer tok = tokenizer_with({"<|endoftext|>", "<|im_end|>"});
  const int64_t eot = tok.token_to_id("<|endoftext|>"), im_end = tok.token_to_id("<|im_end|>");
  ASSERT_EQ(eot, 257);
  ASSERT_EQ(im_end, 258);
  ModelConfig cfg;
  cfg.eos_token_ids = {3};
  // No folder: config.json's ids, then <|im_end|>, then <|endoftext|>.
  EXPECT_EQ(resolve_stop_tokens("", cfg, tok), (std::vector<int64_t>{3, 258, 257}));

  // generation_config.json adds its ids after config.json's, without duplicates.
  const std::string dir = test::scratch_dir("stop_tokens");
  std::filesystem::create_directories(dir);
  write_file_atomic(dir + "/generation_config.json", R"({"eos_token_id": [7, 3, 257]})");
  EXPECT_EQ(resolve_stop_tokens(dir, cfg, tok), (std::vector<int64_t>{3, 7, 257, 258}));
  write_file_atomic(dir + "/generation_config.json", R"({"eos_token_id": 9, "do_sample": true})");
  EXPECT_EQ(resolve_stop_tokens(dir, cfg, tok), (std::vector<int64_t>{3, 9, 258, 257}));
  write_file_atomic(dir + "/generation_config.json", R"({"do_sample": true})");
  EXPECT_EQ(resolve_stop_tokens(dir, cfg, tok), (std::vector<int64_t>{3, 258, 257}));

  // A malformed generation_config.json is an error that names it.
  write_file_atomic(dir + "/generation_config.json", R"({"eos_token_id": "</s>"})");
  try {
    resolve_stop_tokens(dir, cfg, tok);
    ADD_FAILURE() << "no error for a string eos_token_id";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("generation_config.json"), std::string::npos) << e.what();
  }
  write_file_atomic(dir + "/generation_config.json", "{not json");
  EXPECT_THROW(resolve_stop_tokens(dir, cfg, tok), Error);
}

TEST(StopTokens, NothingToStopOnIsAnError) {
  const Tokenizer plain = tokenizer_with({"<|pad|>"});
  ModelConfig cfg;  // no eos_token_id
  try {
    resolve_stop_tokens("", cfg, plain);
    ADD_FAILURE() << "no error without any stop id";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("eos_token_id"), std::string::npos) << e.what();
  }
  cfg.eos_token_ids = {5};
  EXPECT_EQ(resolve_stop_tokens("", cfg, plain), (std::vector<int64_t>{5}));
}

}  // namespace
}  // namespace popo
