// Tokenizer tests: the HF reference cases for Qwen2.5 (ids and decode must match exactly), the
// byte-level table, merge ranks, added-token splitting, lossy decode, and the error messages
// for unsupported tokenizer.json parts.
#include <gtest/gtest.h>
#include <unistd.h>

#include <utf8proc.h>

#include <atomic>
#include <thread>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io.h"
#include "test_util.h"
#include "tokenizer/bpe.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace popo {
namespace {

const Tokenizer& qwen() {
  static const Tokenizer tok =
      Tokenizer::from_file(test::fixture_path("tokenizers/qwen/tokenizer.json"));
  return tok;
}

std::string join(const std::vector<int32_t>& v) {
  std::string s;
  for (int32_t x : v) s += (s.empty() ? "" : " ") + std::to_string(x);
  return s;
}

TEST(TokenizerQwen, MatchesAllHfReferenceCases) {
  const Tokenizer& tok = qwen();
  int n = 0;
  for_each_jsonl(test::fixture_path("hf-reference/tokenizer_qwen_cases.jsonl"),
                 [&](const nlohmann::json& row, int line) {
                   ++n;
                   const std::string text = row.at("text");
                   const auto want = row.at("ids").get<std::vector<int32_t>>();
                   const auto got = tok.encode(text);
                   size_t first = 0;
                   while (first < want.size() && first < got.size() && want[first] == got[first]) {
                     ++first;
                   }
                   EXPECT_EQ(got, want) << "case line " << line << " text " << row["text"].dump()
                                        << "\n first mismatch at index " << first
                                        << "\n want " << join(want) << "\n got  " << join(got);
                   EXPECT_EQ(tok.decode(want), row.at("decoded").get<std::string>())
                       << "case line " << line;
                 });
  EXPECT_EQ(n, 57);
}

// Load time is measured in bench/bench_tokenizer.cpp, not asserted here (no timed tests).
TEST(TokenizerQwen, ReportsVocabularySizesAndSpecialTokens) {
  const Tokenizer tok = Tokenizer::from_file(test::fixture_path("tokenizers/qwen/tokenizer.json"));
  // 151643 BPE tokens (0..151642) + added tokens up to id 151664 (</think> = 151668 here).
  EXPECT_EQ(tok.vocab_size(), 151669);
  EXPECT_EQ(tok.token_to_id("<|im_end|>"), 151645);
  EXPECT_EQ(tok.id_to_token(151645), "<|im_end|>");
  EXPECT_TRUE(tok.is_special(151645));
  EXPECT_FALSE(tok.is_special(151667));  // <think> is added but not special
  EXPECT_FALSE(tok.is_special(9707));
  EXPECT_EQ(tok.token_to_id("no such token"), -1);
  EXPECT_EQ(tok.id_to_token(-3), "");
  EXPECT_EQ(tok.id_to_token(tok.vocab_size()), "");
  EXPECT_EQ(tok.token_to_id("Ġt"), 259);  // byte-level spelling of " t"
}

TEST(TokenizerQwen, CopiesShareStateAndAgree) {
  Tokenizer a = qwen();
  Tokenizer b = std::move(a);
  EXPECT_EQ(b.encode("Hello world"), (std::vector<int32_t>{9707, 1879}));
}

TEST(TokenizerQwen, ConcurrentEncodesAgreeWithReference) {
  std::vector<std::pair<std::string, std::vector<int32_t>>> cases;
  for_each_jsonl(test::fixture_path("hf-reference/tokenizer_qwen_cases.jsonl"),
                 [&](const nlohmann::json& row, int) {
                   cases.emplace_back(row.at("text"), row.at("ids").get<std::vector<int32_t>>());
                 });
  const Tokenizer tok = qwen();  // a copy shares the loaded tables and the word cache
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep) {
        for (size_t k = 0; k < cases.size(); ++k) {
          const auto& c = cases[(k + t * 7) % cases.size()];
          if (tok.encode(c.first) != c.second) ++mismatches;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(TokenizerQwen, SkipSpecialTokensDropsOnlySpecials) {
  const Tokenizer& tok = qwen();
  const auto ids = tok.encode("<|im_start|>user\nhi<|im_end|><think>");
  EXPECT_EQ(tok.decode(ids), "<|im_start|>user\nhi<|im_end|><think>");
  EXPECT_EQ(tok.decode(ids, /*skip_special_tokens=*/true), "user\nhi<think>");
}

TEST(TokenizerQwen, CutMultiByteCharDecodesToReplacementChar) {
  const Tokenizer& tok = qwen();
  // "中" is E4 B8 AD; the byte tokens for E4 and B8 alone form a truncated sequence.
  const std::vector<int32_t> ids = {tok.token_to_id(bytes_to_byte_level("\xE4")),
                                    tok.token_to_id(bytes_to_byte_level("\xB8")),
                                    tok.token_to_id("a")};
  ASSERT_GE(ids[0], 0);
  ASSERT_GE(ids[1], 0);
  EXPECT_EQ(tok.decode(ids), "\xEF\xBF\xBD" "a");  // one U+FFFD for the maximal subpart
  EXPECT_EQ(tok.decode({ids[1], ids[1]}), "\xEF\xBF\xBD\xEF\xBF\xBD");  // lone continuations
}

TEST(TokenizerQwen, ChatTemplateRoundTripsThroughSpecialTokens) {
  const Tokenizer& tok = qwen();
  const std::string prompt = apply_chat_template("qwen-boxed", "What is 1+1?");
  const auto ids = tok.encode(prompt);
  EXPECT_EQ(ids.front(), 151644);  // <|im_start|>
  EXPECT_EQ(tok.decode(ids), prompt);
  int specials = 0;
  for (int32_t id : ids) specials += tok.is_special(id);
  EXPECT_EQ(specials, 5);  // 3 x <|im_start|> (system, user, assistant), 2 x <|im_end|>
}

// ---- UTF-8 helpers and the byte table --------------------------------------------------------

TEST(Utf8, LossyReplacesMaximalSubparts) {
  struct Case { std::string in, want; };
  const std::string R = "\xEF\xBF\xBD";
  const std::vector<Case> cases = {
      {"abc", "abc"},
      {"\xE4\xB8", R},                    // truncated 3-byte sequence: one replacement
      {"\xE4\xB8" "x", R + "x"},
      {"\xFF", R},                        // never valid
      {"\xC0\xAF", R + R},                // overlong lead: each byte
      {"\xED\xA0\x80", R + R + R},        // surrogate: ED then two continuations
      {"\xF0\x9F\x98", R},                // truncated emoji
      {"\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"},
  };
  for (const auto& c : cases) EXPECT_EQ(utf8_lossy(c.in), c.want) << c.in;
}

TEST(ByteLevel, TableMatchesGpt2Definition) {
  const auto& t = byte_to_unicode();
  EXPECT_EQ(t['!'], U'!');
  EXPECT_EQ(t['~'], U'~');
  EXPECT_EQ(t[' '], U'\u0120');  // Ġ
  EXPECT_EQ(t['\n'], U'\u010A');  // Ċ
  EXPECT_EQ(t[0], U'\u0100');
  EXPECT_EQ(t[0xAD], U'\u0143');  // soft hyphen: the last remapped byte
  EXPECT_EQ(t[0xAE], U'\u00AE');
  // A bijection onto 256 distinct code points.
  std::set<char32_t> seen(t.begin(), t.end());
  EXPECT_EQ(seen.size(), 256u);
  for (int b = 0; b < 256; ++b) EXPECT_EQ(unicode_to_byte(t[b]), b);
  std::string bytes;
  ASSERT_TRUE(byte_level_to_bytes("Ġhello", bytes));
  EXPECT_EQ(bytes, " hello");
  EXPECT_FALSE(byte_level_to_bytes("中", bytes));
}

TEST(TokenizerQwen, ByteTokensAreTheFirst256Ids) {
  // In Qwen's vocabulary the 256 byte tokens occupy ids 0..255 in code-point order.
  const Tokenizer& tok = qwen();
  std::vector<char32_t> cps(byte_to_unicode().begin(), byte_to_unicode().end());
  std::sort(cps.begin(), cps.end());
  for (int i = 0; i < 256; ++i) {
    std::string s;
    append_utf8(s, cps[i]);
    EXPECT_EQ(tok.token_to_id(s), i);
  }
}

TEST(Normalizer, NfcComposes) {
  EXPECT_EQ(nfc("e\xCC\x81"), "\xC3\xA9");  // e + U+0301 -> é
  EXPECT_EQ(nfc("plain ascii"), "plain ascii");
}

// Marks newer than HF tokenizers' NFC tables are starters there: nothing reorders across them.
// The expectations are tokenizers 0.23's NormalizedString NFC output (tests/oracle/test_tokenizer.py
// found the first case in a random string); utf8proc alone would move U+1DF7 (class 230 there)
// and U+1DFA (class 218) before the class-230 marks.
TEST(Normalizer, MarksUnknownToHfNfcStayInPlace) {
  // U+0325 (220), U+0342 (230), U+033F (230), U+1DF7 KAVYKA ABOVE LEFT
  EXPECT_EQ(nfc("e\xCC\xA5\xCD\x82\xCC\xBF\xE1\xB7\xB7"), "e\xCC\xA5\xCD\x82\xCC\xBF\xE1\xB7\xB7");
  // U+0301 then U+1DFA (a below mark): é stays composed and the mark stays after it
  EXPECT_EQ(nfc("e\xCC\x81\xE1\xB7\xBA"), "\xC3\xA9\xE1\xB7\xBA");
  // ...while known marks still reorder: U+0301 (230) then U+0316 (220) -> é + U+0316
  EXPECT_EQ(nfc("e\xCC\x81\xCC\x96"), "\xC3\xA9\xCC\x96");
}

// Returns utf8proc's NFC of the whole string (the reference for nfc()'s run-by-run shortcut).
std::string whole_string_nfc(const std::string& s) {
  utf8proc_uint8_t* out = utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t*>(s.c_str()));
  std::string r(reinterpret_cast<const char*>(out));
  std::free(out);
  return r;
}

TEST(Normalizer, RunByRunNfcEqualsWholeStringNfc) {
  const std::vector<std::string> atoms = {
      "a", "e", " ", "\n", "x", "\xCC\x81" /* U+0301 */, "\xCC\xA3" /* U+0323 */,
      "\xC3\xA9", "\xE1\x84\x80" /* Hangul L */, "\xE1\x85\xA1" /* Hangul V */,
      "\xE1\x86\xA8" /* Hangul T */, "\xE2\x84\xAB" /* Angstrom sign */, "\xE4\xB8\xAD",
      "\xF0\x9F\x98\x80", "\xEF\xAC\x81" /* ligature fi (NFKC only) */};
  uint32_t state = 12345;
  for (int trial = 0; trial < 2000; ++trial) {
    std::string s;
    const int len = 1 + trial % 12;
    for (int k = 0; k < len; ++k) {
      state = state * 1664525u + 1013904223u;
      s += atoms[(state >> 8) % atoms.size()];
    }
    ASSERT_EQ(nfc(s), whole_string_nfc(s)) << "input bytes: " << s;
  }
}

// ---- Small hand-written tokenizer.json files ------------------------------------------------

std::string temp_dir() {
  auto p = std::filesystem::temp_directory_path() / ("popo_tok_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(p);
  return p.string();
}

// A byte-level BPE with the 256 byte tokens (ids 0..255 in byte order) and the given merges.
nlohmann::json tiny_json(const std::vector<std::pair<std::string, std::string>>& merges) {
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) vocab[bytes_to_byte_level(std::string(1, char(b)))] = b;
  nlohmann::json m = nlohmann::json::array();
  int next = 256;
  for (const auto& [a, b] : merges) {
    if (!vocab.contains(a + b)) vocab[a + b] = next++;
    m.push_back(nlohmann::json::array({a, b}));
  }
  nlohmann::json j;
  j["version"] = "1.0";
  j["added_tokens"] = nlohmann::json::array();
  j["normalizer"] = {{"type", "NFC"}};
  j["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"}, {"pattern", {{"Regex", kQwen2SplitRegex}}}, {"behavior", "Isolated"},
         {"invert", false}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  j["decoder"] = {{"type", "ByteLevel"}};
  j["model"] = {{"type", "BPE"}, {"vocab", vocab}, {"merges", m}};
  return j;
}

std::vector<int32_t> ids_of(const Tokenizer& t, std::initializer_list<const char*> tokens) {
  std::vector<int32_t> out;
  for (const char* s : tokens) out.push_back(t.token_to_id(s));
  return out;
}

TEST(Bpe, LowestRankMergeWinsThenLeftmost) {
  // Ranks: (b,c)=0, (a,b)=1, (a,bc)=2. "abc": b+c first, then a+bc -> one token.
  Tokenizer t = Tokenizer::from_json(tiny_json({{"b", "c"}, {"a", "b"}, {"a", "bc"}}).dump(), "t1");
  EXPECT_EQ(t.encode("abc"), ids_of(t, {"abc"}));
  // Ranks swapped: (a,b) first, leaving "ab"+"c" with no merge for them.
  Tokenizer u = Tokenizer::from_json(tiny_json({{"a", "b"}, {"b", "c"}, {"a", "bc"}}).dump(), "t2");
  EXPECT_EQ(u.encode("abc"), ids_of(u, {"ab", "c"}));
  // Equal pairs merge leftmost first: "aaa" -> "aa" "a".
  Tokenizer v = Tokenizer::from_json(tiny_json({{"a", "a"}}).dump(), "t3");
  EXPECT_EQ(v.encode("aaa"), ids_of(v, {"aa", "a"}));
}

TEST(Bpe, LongWordsUseTheSameMergeOrder) {
  // Words above 64 bytes take the heap path; the expected splits are worked out by hand.
  Tokenizer t = Tokenizer::from_json(tiny_json({{"b", "c"}, {"a", "b"}, {"ab", "ab"}}).dump(), "l");
  std::string abc, ab;
  for (int k = 0; k < 40; ++k) abc += "abc";  // 120 bytes: (b,c) beats (a,b) -> a|bc x 40
  for (int k = 0; k < 45; ++k) ab += "ab";    // 90 bytes: ab x 45 -> abab x 22 + ab
  std::vector<int32_t> want_abc, want_ab;
  for (int k = 0; k < 40; ++k) {
    want_abc.push_back(t.token_to_id("a"));
    want_abc.push_back(t.token_to_id("bc"));
  }
  for (int k = 0; k < 22; ++k) want_ab.push_back(t.token_to_id("abab"));
  want_ab.push_back(t.token_to_id("ab"));
  EXPECT_EQ(t.encode(abc), want_abc);
  EXPECT_EQ(t.encode(ab), want_ab);
  // A million spaces is one word; it must finish quickly and round-trip.
  const std::string spaces(1000000, ' ');
  EXPECT_EQ(qwen().decode(qwen().encode(spaces)), spaces);
}

TEST(Bpe, LegacyStringMergesEqualPairMerges) {
  nlohmann::json j = tiny_json({{"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}});
  const Tokenizer pairs = Tokenizer::from_json(j.dump(), "pairs");
  j["model"]["merges"] = {"Ġ t", "h e", "Ġt he"};
  const Tokenizer strings = Tokenizer::from_json(j.dump(), "strings");
  EXPECT_EQ(pairs.encode("in the end"), strings.encode("in the end"));
  EXPECT_EQ(strings.encode(" the"), ids_of(strings, {"Ġthe"}));
  const Bpe bpe = Bpe::from_json(j["model"], "strings");
  EXPECT_EQ(bpe.merge_rank("Ġ", "t"), 0);
  EXPECT_EQ(bpe.merge_rank("Ġt", "he"), 2);
  EXPECT_EQ(bpe.merge_rank("t", "Ġ"), -1);
}

TEST(AddedTokens, SplitBeforeRegexWithStripFlags) {
  nlohmann::json j = tiny_json({});
  j["added_tokens"] = {
      {{"id", 300}, {"content", "<s>"}, {"special", true}, {"normalized", false}},
      {{"id", 301}, {"content", "<sep>"}, {"special", true}, {"lstrip", true}, {"rstrip", true},
       {"normalized", false}},
      {{"id", 302}, {"content", "<s>x"}, {"special", false}, {"normalized", false}},
      {{"id", 303}, {"content", "word"}, {"special", false}, {"single_word", true},
       {"normalized", true}},
  };
  const Tokenizer t = Tokenizer::from_json(j.dump(), "added");
  EXPECT_EQ(t.vocab_size(), 304);
  const int32_t sp = t.token_to_id("Ġ");
  // Longest match wins at the same start: "<s>x" over "<s>".
  EXPECT_EQ(t.encode("<s>x<s>"), (std::vector<int32_t>{302, 300}));
  // lstrip/rstrip swallow the surrounding whitespace.
  EXPECT_EQ(t.encode("a  <sep> \tb"), (std::vector<int32_t>{t.token_to_id("a"), 301, t.token_to_id("b")}));
  // Without strip flags the spaces stay as text.
  EXPECT_EQ(t.encode("a <s> b"),
            (std::vector<int32_t>{t.token_to_id("a"), sp, 300, sp, t.token_to_id("b")}));
  // single_word: "word" only when not inside a word.
  EXPECT_EQ(t.encode("word"), (std::vector<int32_t>{303}));
  EXPECT_NE(t.encode("swords").size(), 3u);
  for (int32_t id : t.encode("swords")) EXPECT_NE(id, 303);
  // A special-looking string that is not an added token is plain text.
  EXPECT_EQ(t.encode("<t>").size(), 3u);
  EXPECT_EQ(t.decode(t.encode("x<sep>y<s>"), /*skip_special_tokens=*/true), "xy");
}

void expect_error(const nlohmann::json& j, const std::string& needle) {
  const std::string path = temp_dir() + "/tokenizer.json";
  write_file_atomic(path, j.dump());
  try {
    Tokenizer::from_file(path);
    ADD_FAILURE() << "expected popo::Error containing: " << needle;
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path), std::string::npos) << what;
    EXPECT_NE(what.find(needle), std::string::npos) << what;
  }
}

TEST(TokenizerErrors, UnsupportedPartsNameFileAndPart) {
  nlohmann::json j = tiny_json({});
  nlohmann::json wp = j;
  wp["model"]["type"] = "WordPiece";
  expect_error(wp, "model.type 'WordPiece' is not supported; expected BPE");
  nlohmann::json norm = j;
  norm["normalizer"] = {{"type", "Lowercase"}};
  expect_error(norm, "normalizer.type 'Lowercase' is not supported");
  nlohmann::json pre = j;
  pre["pre_tokenizer"] = {{"type", "Metaspace"}};
  expect_error(pre, "pre_tokenizer.type 'Metaspace' is not supported");
  nlohmann::json dec = j;
  dec["decoder"] = {{"type", "WordPiece"}};
  expect_error(dec, "decoder.type 'WordPiece' is not supported");
  nlohmann::json fb = j;
  fb["model"]["byte_fallback"] = true;
  expect_error(fb, "model.byte_fallback");
  nlohmann::json bad_merge = j;
  bad_merge["model"]["merges"] = {"zz yy"};
  expect_error(bad_merge, "model.merges[0]");
  nlohmann::json no_byte = j;
  no_byte["model"]["vocab"].erase("Ġ");
  expect_error(no_byte, "lacks the byte-level token for byte 0x20");
  expect_error(nlohmann::json::array(), "expected a tokenizer.json object");
  std::filesystem::remove_all(temp_dir());
}

TEST(TokenizerErrors, MissingFileNamesPath) {
  try {
    Tokenizer::from_file("/nonexistent/tok/tokenizer.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/tok/tokenizer.json"), std::string::npos);
  }
}

// ---- chat templates ---------------------------------------------------------------------------

TEST(ChatTemplate, KnownNamesAndUnknownError) {
  EXPECT_EQ(apply_chat_template("raw", "2+2?"), "2+2?");
  EXPECT_EQ(apply_chat_template("plain", "2+2?"), "Question: 2+2?\nAnswer:");
  EXPECT_EQ(apply_chat_template("chatml", "2+2?"),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(apply_chat_template("qwen-boxed", "2+2?"),
            "<|im_start|>system\nPlease reason step by step, and put your final answer within "
            "\\boxed{}.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(chat_template_names().size(), 5u);
  try {
    apply_chat_template("llama3", "x");
    FAIL();
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("llama3"), std::string::npos);
    for (const auto& n : chat_template_names()) EXPECT_NE(what.find(n), std::string::npos) << n;
  }
}

}  // namespace
}  // namespace popo
