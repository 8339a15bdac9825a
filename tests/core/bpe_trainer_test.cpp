// Tests for the tiny byte-level BPE trainer: the result loads with Tokenizer::from_json, has the
// requested size, round-trips the corpus, compresses it, and is deterministic.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io.h"
#include "test_util.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/tokenizer.h"

namespace popo {
namespace {

std::vector<std::string> math_corpus(int n) {
  std::vector<std::string> lines;
  for_each_jsonl(test::data_dir() + "/math_train.jsonl", [&](const nlohmann::json& row, int) {
    if (static_cast<int>(lines.size()) < n) lines.push_back(row.at("problem").get<std::string>());
  });
  lines.push_back("Unicode too: café, 中文, Ελληνικά, 😀 and <|im_start|>specials<|im_end|>.");
  return lines;
}

const std::vector<std::string> kSpecials = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};

TEST(BpeTrainer, TrainedTokenizerLoadsRoundTripsAndCompresses) {
  const auto corpus = math_corpus(/*n=*/300);
  const std::string json = train_bpe_tokenizer_json(corpus, /*vocab_size=*/600, kSpecials);
  const Tokenizer tok = Tokenizer::from_json(json, "trained");
  EXPECT_EQ(tok.vocab_size(), 600);
  // Special tokens are the last ids, marked special, and split off whole.
  EXPECT_EQ(tok.token_to_id("<|endoftext|>"), 597);
  EXPECT_EQ(tok.token_to_id("<|im_end|>"), 599);
  EXPECT_TRUE(tok.is_special(598));
  EXPECT_FALSE(tok.is_special(300));
  const auto chat = tok.encode("<|im_start|>user\nhi<|im_end|>");
  EXPECT_EQ(chat.front(), 598);
  EXPECT_EQ(chat.back(), 599);

  size_t bytes = 0, ids = 0;
  for (const auto& line : corpus) {
    const auto enc = tok.encode(line);
    EXPECT_EQ(tok.decode(enc), line);  // corpus is NFC already
    for (int32_t id : enc) {
      ASSERT_GE(id, 0);
      ASSERT_LT(id, tok.vocab_size());
    }
    bytes += line.size();
    ids += enc.size();
  }
  // 341 merges on English/LaTeX text: well under one token per byte.
  EXPECT_LT(static_cast<double>(ids), 0.6 * static_cast<double>(bytes))
      << ids << " ids for " << bytes << " bytes";
}

TEST(BpeTrainer, FirstMergeIsTheMostFrequentPairAndOutputIsDeterministic) {
  // "ab" occurs 4 times, "cd" 2 times: the first merge must be (a, b).
  const std::vector<std::string> corpus = {"ab ab ab ab cd cd"};
  const std::string json = train_bpe_tokenizer_json(corpus, /*vocab_size=*/258, {});
  const auto j = nlohmann::json::parse(json);
  ASSERT_EQ(j["model"]["merges"].size(), 2u);
  // Words are "ab", " ab" (x3), " cd" (x2): pairs (a,b)=4, (Ġ,a)=3, (Ġ,c)=2, (c,d)=2.
  EXPECT_EQ(j["model"]["merges"][0], nlohmann::json::array({"a", "b"}));
  EXPECT_EQ(j["model"]["merges"][1], nlohmann::json::array({"Ġ", "ab"}));
  EXPECT_EQ(train_bpe_tokenizer_json(corpus, 258, {}), json);
  // Ties: (Ġ,c) and (c,d) both count 2 after the two merges; "c" < "Ġ" bytewise picks (c, d).
  const auto j3 = nlohmann::json::parse(train_bpe_tokenizer_json(corpus, 259, {}));
  EXPECT_EQ(j3["model"]["merges"][2], nlohmann::json::array({"c", "d"}));
  // Same normalizer / pre-tokenizer / decoder sections as Qwen2's tokenizer.json.
  const auto qwen = nlohmann::json::parse(
      read_file(test::fixture_path("tokenizers/qwen/tokenizer.json")));
  EXPECT_EQ(j["normalizer"], qwen["normalizer"]);
  EXPECT_EQ(j["pre_tokenizer"], qwen["pre_tokenizer"]);
  EXPECT_EQ(j["decoder"], qwen["decoder"]);
}

TEST(BpeTrainer, RejectsTooSmallVocabAndDuplicateSpecials) {
  EXPECT_THROW(train_bpe_tokenizer_json({"x"}, /*vocab_size=*/257, kSpecials), Error);
  EXPECT_THROW(train_bpe_tokenizer_json({"x"}, /*vocab_size=*/300, {"<a>", "<a>"}), Error);
}

TEST(BpeTrainer, StopsEarlyWhenCorpusRunsOutOfPairs) {
  const Tokenizer tok = Tokenizer::from_json(train_bpe_tokenizer_json({"aaaa"}, 1000, {}), "tiny");
  // "aaaa": (a,a) -> "aa", then (aa,aa) -> "aaaa"; nothing is left to merge.
  EXPECT_EQ(tok.vocab_size(), 258);
  EXPECT_EQ(tok.encode("aaaa"), (std::vector<int32_t>{tok.token_to_id("aaaa")}));
}

}  // namespace
}  // namespace popo
