// math_dataset.h: JSONL loading with skip / strict, the benchmark registry, and the portable
// shuffle (splitmix64 reference outputs from Vigna's splitmix64.c, seed 1234567; the expected
// permutations were computed by an independent Python transcription of Fisher-Yates).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "core/io.h"
#include "data/math_dataset.h"
#include "test_util.h"

namespace popo {
namespace {

std::string temp_file(const std::string& name, const std::string& text) {
  auto dir = std::filesystem::temp_directory_path() / ("popo_ds_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / name).string();
  write_file_atomic(path, text);
  return path;
}

const char* kMixed =
    "{\"id\": \"a\", \"problem\": \"1+1?\", \"answer\": \"2\"}\n"
    "{\"id\": \"b\", \"problem\": \"no answer\"}\n"
    "\n"
    "{\"id\": \"c\", \"answer\": \"3\"}\n"
    "{\"id\": \"d\", \"problem\": \"empty\", \"answer\": \"\"}\n"
    "{\"problem\": \"numeric answer\", \"answer\": 27.0}\n";

TEST(MathDataset, SkipsIncompleteRowsWithLineNumbers) {
  std::string path = temp_file("mixed.jsonl", kMixed);
  LoadReport rep;
  auto rows = load_math_jsonl(path, /*strict=*/false, &rep);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].id, "a");
  EXPECT_EQ(rows[0].problem, "1+1?");
  EXPECT_EQ(rows[0].answer, "2");
  EXPECT_EQ(rows[1].id, "6");  // no id: the line number
  EXPECT_EQ(rows[1].answer, "27");
  EXPECT_EQ(rep.skipped, 3);
  EXPECT_EQ(rep.skipped_lines, (std::vector<int>{2, 4, 5}));
}

TEST(MathDataset, StrictNamesFileAndLine) {
  std::string path = temp_file("strict.jsonl", kMixed);
  try {
    load_math_jsonl(path, /*strict=*/true);
    FAIL() << "expected popo::Error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(path + ":2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("answer"), std::string::npos) << msg;
  }
}

TEST(MathDataset, LoadsRealBenchmarks) {
  struct Want {
    const char* name;
    size_t rows;
  };
  for (const Want& w : {Want{"aime2025", 30}, Want{"aime2024", 30}, Want{"amc23", 40},
                        Want{"math500", 500}, Want{"minerva", 272}, Want{"olympiadbench", 675},
                        Want{"gsm8k", 1319}}) {
    LoadReport rep;
    auto rows = load_math_jsonl(benchmark_path(w.name, test::data_dir()), false, &rep);
    EXPECT_EQ(rows.size(), w.rows) << w.name;
    EXPECT_EQ(rep.skipped, 0) << w.name;
  }
  // math_train has two rows with an empty answer (the data README lists them).
  LoadReport rep;
  auto train = load_math_jsonl(test::data_dir() + "/math_train.jsonl", false, &rep);
  EXPECT_EQ(train.size(), 7498u);
  EXPECT_EQ(rep.skipped, 2);
  auto aime = load_math_jsonl(benchmark_path("aime2025", test::data_dir()), true);
  EXPECT_EQ(aime[0].id, "2025-I-1");
  EXPECT_EQ(aime[0].answer, "70");
}

TEST(MathDataset, Registry) {
  EXPECT_EQ(benchmark_names(), (std::vector<std::string>{"aime2025", "aime2024", "amc23", "math500",
                                                         "minerva", "olympiadbench", "gsm8k"}));
  EXPECT_EQ(benchmark_path("gsm8k", "/d"), "/d/gsm8k_test.jsonl");
  EXPECT_EQ(benchmark_path("math500", "/d/"), "/d/math500.jsonl");
  EXPECT_TRUE(benchmark_uses_last_number("gsm8k"));
  EXPECT_FALSE(benchmark_uses_last_number("math500"));
  try {
    benchmark_path("aime2023", "/d");
    FAIL() << "expected popo::Error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("aime2023"), std::string::npos);
    EXPECT_NE(msg.find("olympiadbench"), std::string::npos);
  }
}

std::vector<int> shuffled_ids(int n, uint64_t seed) {
  std::vector<MathProblem> p(n);
  for (int i = 0; i < n; ++i) p[i].id = std::to_string(i);
  shuffle_problems(p, seed);
  std::vector<int> out;
  for (const auto& x : p) out.push_back(std::stoi(x.id));
  return out;
}

TEST(MathDataset, ShuffleIsPortableAndDeterministic) {
  EXPECT_EQ(shuffled_ids(10, 42), (std::vector<int>{0, 9, 5, 8, 6, 4, 7, 2, 1, 3}));
  EXPECT_EQ(shuffled_ids(10, 0), (std::vector<int>{6, 3, 2, 9, 8, 1, 4, 7, 0, 5}));
  EXPECT_EQ(shuffled_ids(500, 7), shuffled_ids(500, 7));
  EXPECT_NE(shuffled_ids(500, 7), shuffled_ids(500, 8));
  auto p = shuffled_ids(500, 7);
  std::sort(p.begin(), p.end());
  for (int i = 0; i < 500; ++i) ASSERT_EQ(p[i], i);
  EXPECT_TRUE(shuffled_ids(0, 1).empty());
  EXPECT_EQ(shuffled_ids(1, 1), (std::vector<int>{0}));
}


// verl's RL layout (its examples/data_preprocess scripts write it to parquet; exported to JSONL
// with pandas): a prompt list of chat messages, the gold answer under reward_model.ground_truth,
// other fields beside them.
const char* kVerlRows =
    "{\"data_source\": \"gsm8k\", \"prompt\": [{\"role\": \"user\", \"content\": \"1+1?\"}], "
    "\"ability\": \"math\", \"reward_model\": {\"style\": \"rule\", \"ground_truth\": \"2\"}, "
    "\"extra_info\": {\"split\": \"train\", \"index\": 0}}\n"
    "{\"data_source\": \"gsm8k\", \"prompt\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, "
    "{\"role\": \"user\", \"content\": \"2+2?\"}], \"reward_model\": {\"ground_truth\": 4}, "
    "\"extra_info\": {\"index\": 1}}\n"
    "{\"prompt\": [], \"reward_model\": {\"ground_truth\": \"1\"}}\n"
    "{\"prompt\": [{\"role\": \"tool\", \"content\": \"x\"}], \"reward_model\": {\"ground_truth\": \"1\"}}\n"
    "{\"prompt\": [{\"role\": \"system\", \"content\": \"x\"}], \"reward_model\": {\"ground_truth\": \"1\"}}\n"
    "{\"prompt\": \"plain text\", \"reward_model\": {\"style\": \"rule\"}}\n";

TEST(MathDataset, DottedKeysChatMessagesAndMetadata) {
  DataKeys keys;
  keys.prompt = "prompt";
  keys.answer = "reward_model.ground_truth";
  keys.id = "extra_info.index";
  LoadReport rep;
  const auto rows = load_math_jsonl(temp_file("verl.jsonl", kVerlRows), false, &rep, keys);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].id, "0");
  EXPECT_EQ(rows[0].problem, "1+1?");
  EXPECT_EQ(rows[0].answer, "2");
  ASSERT_EQ(rows[0].messages.size(), 1u);
  EXPECT_EQ(rows[0].messages[0].role, "user");
  // The fields used are gone from the metadata (and the objects they leave empty); the rest stay.
  EXPECT_EQ(nlohmann::json::parse(rows[0].metadata_json),
            nlohmann::json::parse("{\"data_source\": \"gsm8k\", \"ability\": \"math\", "
                                  "\"reward_model\": {\"style\": \"rule\"}, "
                                  "\"extra_info\": {\"split\": \"train\"}}"));
  EXPECT_EQ(nlohmann::json::parse(rows[1].metadata_json),
            nlohmann::json::parse("{\"data_source\": \"gsm8k\"}"));
  EXPECT_EQ(rows[1].answer, "4");
  ASSERT_EQ(rows[1].messages.size(), 2u);
  EXPECT_EQ(rows[1].problem, "2+2?");  // the last user turn
  // Empty list, unknown role, no user turn, missing answer: skipped with their line numbers.
  EXPECT_EQ(rep.skipped, 4);
  EXPECT_EQ(rep.skipped_lines, (std::vector<int>{3, 4, 5, 6}));
  // Strict names the line and what is wrong with it.
  try {
    load_math_jsonl(temp_file("verl.jsonl", kVerlRows), true, nullptr, keys);
    ADD_FAILURE() << "strict load accepted a bad row";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("verl.jsonl:3: 'prompt' is an empty list"), std::string::npos)
        << e.what();
  }
  // The conversation goes through the template as a conversation.
  EXPECT_EQ(problem_prompt("chatml", rows[1]),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(problem_prompt("chatml", rows[0]),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n1+1?"
            "<|im_end|>\n<|im_start|>assistant\n");
  // A template that renders one user turn refuses a system turn, naming the problem.
  try {
    problem_prompt("plain", rows[1]);
    ADD_FAILURE() << "plain rendered a system turn";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("problem '1'"), std::string::npos) << e.what();
  }
}

TEST(MathDataset, JsonArrayFilesAndDefaultKeys) {
  // An HF dataset's to_json(lines=False): one array of rows; "lines" are the rows' positions.
  const std::string text =
      "  [\n {\"question\": \"3*3?\", \"final\": 9, \"uid\": \"q1\"},\n"
      " {\"question\": \"no answer\"},\n {\"question\": \"4*4?\", \"final\": \"16\"}]\n";
  DataKeys keys;
  keys.prompt = "question";
  keys.answer = "final";
  keys.id = "uid";
  LoadReport rep;
  const auto rows = load_math_jsonl(temp_file("arr.json", text), false, &rep, keys);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].id, "q1");
  EXPECT_EQ(rows[0].answer, "9");
  EXPECT_EQ(rows[1].id, "3");  // no uid: its position
  EXPECT_EQ(rep.skipped_lines, (std::vector<int>{2}));
  EXPECT_TRUE(rows[0].messages.empty());
  EXPECT_EQ(problem_prompt("plain", rows[0]), "Question: 3*3?\nAnswer:");
  // The default keys read nothing of this layout, and say which keys they looked for.
  LoadReport none;
  EXPECT_TRUE(load_math_jsonl(temp_file("arr.json", text), false, &none).empty());
  EXPECT_EQ(none.skipped, 3);
  try {
    load_math_jsonl(temp_file("arr.json", text), true);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("arr.json:1: missing field 'problem'"), std::string::npos)
        << e.what();
  }
  // A broken array is one error naming the file.
  try {
    load_math_jsonl(temp_file("bad.json", "[{\"problem\": 1"), false);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json: not valid JSON"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace popo
