#include "core/metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/io.h"

namespace popo {
namespace {

std::string temp_dir() {
  auto p =
      std::filesystem::temp_directory_path() / ("popo_metrics_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(p);
  return p.string();
}

TEST(Metrics, EachRowIsOneFlushedLineWithStepFirst) {
  const std::string path = path_join(temp_dir(), "run1/metrics.jsonl");
  std::filesystem::remove(path);
  MetricsWriter w(path);
  w.write(1, {{"reward", 0.25}, {"loss", -1.5}});
  // Flushed: readable before the writer closes.
  EXPECT_EQ(read_file(path), "{\"step\":1,\"loss\":-1.5,\"reward\":0.25}\n");
  w.write(2, nlohmann::json::object());
  w.write(3, {{"entropy", std::nan("")}, {"name", "x"}});
  const auto rows = read_metrics(path);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1], (nlohmann::json{{"step", 2}}));
  EXPECT_TRUE(rows[2]["entropy"].is_null());
  EXPECT_EQ(rows[2]["name"], "x");
  EXPECT_THROW(w.write(4, nlohmann::json::array()), Error);
  EXPECT_THROW(w.write(4, {{"step", 4}}), Error);
}

TEST(Metrics, ReopeningAppends) {
  const std::string path = path_join(temp_dir(), "append.jsonl");
  std::filesystem::remove(path);
  { MetricsWriter(path).write(1, {{"a", 1}}); }
  { MetricsWriter(path).write(2, {{"a", 2}}); }
  const auto rows = read_metrics(path);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["a"], 1);
  EXPECT_EQ(rows[1]["step"], 2);
}

TEST(Metrics, TruncateAfterDropsLaterRowsAndTornLineThenAppends) {
  const std::string path = path_join(temp_dir(), "resume.jsonl");
  // Rows 1..5, then half a line from a crash.
  write_file_atomic(path,
                    "{\"step\":1,\"r\":0.1}\n{\"step\":2,\"r\":0.2}\n{\"step\":3,\"r\":0.3}\n"
                    "{\"step\":4,\"r\":0.4}\n{\"step\":5,\"r\":0.5}\n{\"step\":6,\"r\"");
  MetricsWriter w(path);
  w.truncate_after(3);
  w.write(4, {{"r", 4.5}});
  EXPECT_EQ(read_file(path),
            "{\"step\":1,\"r\":0.1}\n{\"step\":2,\"r\":0.2}\n{\"step\":3,\"r\":0.3}\n"
            "{\"step\":4,\"r\":4.5}\n");
}

TEST(Metrics, ReadIgnoresOnlyATornFinalLine) {
  const std::string dir = temp_dir();
  write_file_atomic(path_join(dir, "torn.jsonl"), "{\"step\":1}\n{\"step\":2,");
  EXPECT_EQ(read_metrics(path_join(dir, "torn.jsonl")).size(), 1u);
  write_file_atomic(path_join(dir, "bad.jsonl"), "{\"step\":1}\n{oops\n{\"step\":3}\n");
  try {
    read_metrics(path_join(dir, "bad.jsonl"));
    FAIL() << "expected popo::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_metrics(path_join(dir, "missing.jsonl")), Error);
}

TEST(Metrics, SeriesTakesStepAsXAndMarksMissingValuesNaN) {
  const std::vector<nlohmann::json> rows = {
      {{"step", 1}, {"reward", 0.5}}, {{"step", 2}},         {{"step", 3}, {"reward", nullptr}},
      {{"step", 4}, {"reward", 2}},   {{"note", "no step"}},
  };
  const Series s = metric_series(rows, "reward", "mean reward");
  EXPECT_EQ(s.name, "mean reward");
  EXPECT_EQ(s.x, (std::vector<double>{1, 2, 3, 4}));
  ASSERT_EQ(s.y.size(), 4u);
  EXPECT_EQ(s.y[0], 0.5);
  EXPECT_TRUE(std::isnan(s.y[1]));
  EXPECT_TRUE(std::isnan(s.y[2]));
  EXPECT_EQ(s.y[3], 2.0);
  EXPECT_EQ(metric_series(rows, "reward").name, "reward");
}

}  // namespace
}  // namespace popo
