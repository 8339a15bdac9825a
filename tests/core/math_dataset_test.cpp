// math_dataset.h: JSONL loading with skip / strict, the benchmark registry, and the portable
// shuffle (splitmix64 reference outputs from Vigna's splitmix64.c, seed 1234567; the expected
// permutations were computed by an independent Python transcription of Fisher-Yates).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
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

}  // namespace
}  // namespace popo
