#include "core/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "core/error.h"
#include "core/io.h"

namespace popo {
namespace {

struct SamplingSection {
  double temperature = 1.0;
  int top_k = 0;
  std::vector<std::string> stop = {"</s>"};
  template <class V>
  void visit_fields(V& v) {
    v("temperature", temperature, "softmax temperature; 0 = greedy");
    v("top_k", top_k, "keep the k most likely tokens; 0 disables");
    v("stop", stop, "stop strings");
  }
};

struct TrainerSection {
  double lr = 1e-6;
  int64_t steps = 100;
  SamplingSection sampling;
  template <class V>
  void visit_fields(V& v) {
    v("lr", lr, "learning rate");
    v("steps", steps, "optimizer steps");
    v("sampling", sampling, "rollout sampling");
  }
};

struct TestConfig {
  bool use_kv_cache = true;
  uint64_t seed = 7;
  std::string name = "grpo";
  std::vector<int64_t> eval_steps = {10, 20};
  TrainerSection trainer;
  template <class V>
  void visit_fields(V& v) {
    v("use_kv_cache", use_kv_cache, "reuse keys and values while decoding");
    v("seed", seed, "run seed");
    v("name", name, "algorithm name");
    v("eval_steps", eval_steps, "steps at which to evaluate");
    v("trainer", trainer, "optimizer and rollout settings");
  }
};

// Returns the message of the popo::Error thrown by fn ("" if none was thrown).
template <class Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(Config, LoadsNestedValuesAndKeepsAbsentDefaults) {
  TestConfig c;
  load_yaml_string(
      "seed: 42\n"
      "trainer:\n"
      "  lr: 3.0e-5\n"
      "  sampling:\n"
      "    temperature: 0.7\n"
      "    stop: [a, \"b c\"]\n"
      "eval_steps: []\n",
      c);
  EXPECT_EQ(c.seed, 42u);
  EXPECT_DOUBLE_EQ(c.trainer.lr, 3.0e-5);
  EXPECT_DOUBLE_EQ(c.trainer.sampling.temperature, 0.7);
  EXPECT_EQ(c.trainer.sampling.stop, (std::vector<std::string>{"a", "b c"}));
  EXPECT_TRUE(c.eval_steps.empty());
  EXPECT_EQ(c.trainer.steps, 100);  // absent: default kept
  EXPECT_EQ(c.name, "grpo");
  EXPECT_TRUE(c.use_kv_cache);
}

TEST(Config, UnknownKeyNamesFullDottedKeyAndSuggestsNearMiss) {
  struct Case {
    std::string yaml, want_key, want_suggestion;
  };
  const Case cases[] = {
      {"trainer:\n  lrr: 1\n", "unknown key 'trainer.lrr'", "did you mean 'trainer.lr'"},
      {"trainer:\n  sampling:\n    temprature: 1\n", "unknown key 'trainer.sampling.temprature'",
       "did you mean 'trainer.sampling.temperature'"},
      {"lr: 1\n", "unknown key 'lr'", "did you mean 'trainer.lr'"},  // right name, wrong section
      {"trainer:\n  zzzzzzzz: 1\n", "unknown key 'trainer.zzzzzzzz'",
       "valid keys in 'trainer': lr steps sampling"},
  };
  for (const Case& c : cases) {
    TestConfig cfg;
    const std::string msg = error_of([&] { load_yaml_string(c.yaml, cfg, "configs/x.yaml"); });
    EXPECT_TRUE(contains(msg, c.want_key)) << msg;
    EXPECT_TRUE(contains(msg, c.want_suggestion)) << msg;
    EXPECT_TRUE(contains(msg, "configs/x.yaml:")) << msg;
  }
}

TEST(Config, WrongTypeNamesKeyExpectedTypeAndValue) {
  struct Case {
    std::string yaml, key, expected, got;
  };
  const Case cases[] = {
      {"trainer:\n  lr: fast\n", "trainer.lr", "expected double", "got 'fast'"},
      {"trainer:\n  lr: 1e999\n", "trainer.lr", "expected double", "got '1e999'"},
      {"use_kv_cache: yes\n", "use_kv_cache", "expected bool", "got 'yes'"},
      {"use_kv_cache: 1\n", "use_kv_cache", "expected bool", "got '1'"},
      {"trainer:\n  sampling:\n    top_k: 2.5\n", "trainer.sampling.top_k", "expected int",
       "got '2.5'"},
      {"trainer:\n  sampling:\n    top_k: 3000000000\n", "trainer.sampling.top_k", "expected int",
       "got '3000000000'"},
      {"seed: -1\n", "seed", "expected uint64", "got '-1'"},
      {"trainer:\n  steps: [1]\n", "trainer.steps", "expected int64", "got a list"},
      {"eval_steps: 5\n", "eval_steps", "expected list<int64>", "got '5'"},
      {"eval_steps: [1, x]\n", "eval_steps[1]", "expected int64", "got 'x'"},
      {"name:\n", "name", "expected string", "got null"},
      {"trainer: 3\n", "trainer", "expected a mapping", "got '3'"},
  };
  for (const Case& c : cases) {
    TestConfig cfg;
    const std::string msg = error_of([&] { load_yaml_string(c.yaml, cfg, "f.yaml"); });
    EXPECT_TRUE(contains(msg, "'" + c.key + "'")) << c.yaml << " -> " << msg;
    EXPECT_TRUE(contains(msg, c.expected)) << c.yaml << " -> " << msg;
    EXPECT_TRUE(contains(msg, c.got)) << c.yaml << " -> " << msg;
  }
}

TEST(Config, ErrorsReportLineAndLeaveConfigUnchanged) {
  TestConfig cfg;
  const std::string msg =
      error_of([&] { load_yaml_string("seed: 5\n\ntrainer:\n  lr: x\n", cfg, "a.yaml"); });
  EXPECT_TRUE(contains(msg, "a.yaml:4:")) << msg;
  EXPECT_EQ(cfg.seed, 7u);  // the earlier valid key was not applied
}

TEST(Config, DuplicateKeyAndSyntaxErrorAreReported) {
  TestConfig cfg;
  EXPECT_TRUE(contains(error_of([&] { load_yaml_string("seed: 1\nseed: 2\n", cfg, "d.yaml"); }),
                       "duplicate key 'seed'"));
  EXPECT_TRUE(
      contains(error_of([&] { load_yaml_string("trainer: [1,\n", cfg, "s.yaml"); }), "s.yaml:"));
}

TEST(Config, OverridesSetNestedValuesWithTheSameChecks) {
  TestConfig c;
  apply_overrides(c, {"trainer.lr=1e-6", "trainer.sampling.temperature=0", "name=my run=2",
                      "eval_steps=[5, 15, -1]", "trainer.sampling.stop=[x, \"y,z\"]",
                      "use_kv_cache=false", "seed=18446744073709551615", "trainer.steps=-3"});
  EXPECT_DOUBLE_EQ(c.trainer.lr, 1e-6);
  EXPECT_EQ(c.trainer.sampling.temperature, 0.0);
  EXPECT_EQ(c.name, "my run=2");
  EXPECT_EQ(c.eval_steps, (std::vector<int64_t>{5, 15, -1}));
  EXPECT_EQ(c.trainer.sampling.stop, (std::vector<std::string>{"x", "y,z"}));
  EXPECT_FALSE(c.use_kv_cache);
  EXPECT_EQ(c.seed, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(c.trainer.steps, -3);

  struct Bad {
    std::string kv, want1, want2;
  };
  const Bad bad[] = {
      {"trainer.lrr=1", "command line: unknown key 'trainer.lrr'", "did you mean 'trainer.lr'"},
      {"trainer.lr=abc", "key 'trainer.lr'", "expected double (number), got 'abc'"},
      {"trainer=1", "'trainer' is a section", "trainer.lr"},
      {"trainer.lr.x=1", "'trainer.lr' is a value", "command line"},
      {"trainer.lr", "key=value", "command line"},
      {"eval_steps=[1, a]", "key 'eval_steps'", "expected list<int64>"},
      {"eval_steps=3", "key 'eval_steps'", "expected list<int64>"},
  };
  for (const Bad& b : bad) {
    TestConfig cfg;
    const std::string msg = error_of([&] { apply_override(cfg, b.kv); });
    EXPECT_TRUE(contains(msg, b.want1)) << b.kv << " -> " << msg;
    EXPECT_TRUE(contains(msg, b.want2)) << b.kv << " -> " << msg;
    EXPECT_DOUBLE_EQ(cfg.trainer.lr, 1e-6);
  }
}

TEST(Config, DumpReloadsToIdenticalValues) {
  TestConfig a;
  a.use_kv_cache = false;
  a.seed = std::numeric_limits<uint64_t>::max();
  a.name = "tricky: \"quoted\" # not a comment\n\ttab \\ ~";
  a.eval_steps = {std::numeric_limits<int64_t>::min(), 0, 42};
  a.trainer.lr = 1.0 / 3.0;
  a.trainer.steps = -9;
  a.trainer.sampling.temperature = 0.1 + 0.2;  // needs 17 digits
  a.trainer.sampling.top_k = std::numeric_limits<int>::min();
  a.trainer.sampling.stop = {"", "true", "null", "[x]", "ünïcode", "-"};

  const std::string yaml = dump_yaml(a);
  TestConfig b;  // starts from different defaults
  load_yaml_string(yaml, b, "dump");
  EXPECT_EQ(b.use_kv_cache, a.use_kv_cache);
  EXPECT_EQ(b.seed, a.seed);
  EXPECT_EQ(b.name, a.name);
  EXPECT_EQ(b.eval_steps, a.eval_steps);
  EXPECT_EQ(b.trainer.lr, a.trainer.lr);  // bit-exact
  EXPECT_EQ(b.trainer.steps, a.trainer.steps);
  EXPECT_EQ(b.trainer.sampling.temperature, a.trainer.sampling.temperature);
  EXPECT_EQ(b.trainer.sampling.top_k, a.trainer.sampling.top_k);
  EXPECT_EQ(b.trainer.sampling.stop, a.trainer.sampling.stop);
  EXPECT_EQ(dump_yaml(b), yaml);
  EXPECT_TRUE(contains(yaml, "# softmax temperature; 0 = greedy")) << yaml;
}

TEST(Config, DumpOfSpecialDoublesReloads) {
  for (double v : {std::numeric_limits<double>::infinity(),
                   -std::numeric_limits<double>::infinity(), 1e300, -0.0, 5e-324, 2.0}) {
    TestConfig a, b;
    a.trainer.lr = v;
    load_yaml_string(dump_yaml(a), b);
    EXPECT_EQ(b.trainer.lr, v);
    EXPECT_EQ(std::signbit(b.trainer.lr), std::signbit(v));
  }
  TestConfig a, b;
  a.trainer.lr = std::nan("");
  load_yaml_string(dump_yaml(a), b);
  EXPECT_TRUE(std::isnan(b.trainer.lr));
}

TEST(Config, FileLoadNamesThePath) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("popo_config_test_" + std::to_string(::getpid())))
          .string();
  const std::string path = path_join(dir, "run.yaml");
  write_file_atomic(path, "trainer:\n  steps: 12\n  sampling:\n    top_kk: 1\n");
  TestConfig c;
  const std::string msg = error_of([&] { load_yaml_file(path, c); });
  EXPECT_TRUE(contains(msg, path + ":4:")) << msg;
  EXPECT_TRUE(contains(msg, "trainer.sampling.top_k'")) << msg;
  write_file_atomic(path, "trainer:\n  steps: 12\n");
  load_yaml_file(path, c);
  EXPECT_EQ(c.trainer.steps, 12);
  std::filesystem::remove_all(dir);
}

TEST(Config, BaseKeyLoadsTheBaseFileFirstRelativeToTheOverlay) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("popo_config_base_" + std::to_string(::getpid())))
          .string();
  // root.yaml <- sub/mid.yaml <- sub/top.yaml; each later file overrides what it names.
  write_file_atomic(path_join(dir, "root.yaml"), "seed: 3\nname: popo\ntrainer:\n  lr: 0.5\n  steps: 9\n");
  write_file_atomic(path_join(dir, "sub/mid.yaml"), "base: ../root.yaml\ntrainer:\n  steps: 11\n");
  write_file_atomic(path_join(dir, "sub/top.yaml"), "base: mid.yaml\nname: grpo\n");
  TestConfig c;
  load_yaml_file(path_join(dir, "sub/top.yaml"), c);
  EXPECT_EQ(c.seed, 3u);                  // from root
  EXPECT_EQ(c.trainer.lr, 0.5);           // from root
  EXPECT_EQ(c.trainer.steps, 11);         // mid overrides root
  EXPECT_EQ(c.name, "grpo");              // top overrides both
  EXPECT_EQ(c.trainer.sampling.top_k, 0);  // untouched default
  // A missing base, a loop and an error inside a base name their files.
  write_file_atomic(path_join(dir, "missing.yaml"), "base: nowhere.yaml\n");
  EXPECT_TRUE(contains(error_of([&] { load_yaml_file(path_join(dir, "missing.yaml"), c); }),
                       "nowhere.yaml")) << "missing base";
  write_file_atomic(path_join(dir, "a.yaml"), "base: b.yaml\n");
  write_file_atomic(path_join(dir, "b.yaml"), "base: a.yaml\n");
  EXPECT_TRUE(contains(error_of([&] { load_yaml_file(path_join(dir, "a.yaml"), c); }), "loops"));
  write_file_atomic(path_join(dir, "bad_base.yaml"), "seed: 1\ntrainer:\n  lrr: 1\n");
  write_file_atomic(path_join(dir, "over.yaml"), "base: bad_base.yaml\n");
  const std::string msg = error_of([&] { load_yaml_file(path_join(dir, "over.yaml"), c); });
  EXPECT_TRUE(contains(msg, "bad_base.yaml:3:")) << msg;
  // base is a file-level key only: a YAML string with it is an unknown key.
  EXPECT_TRUE(contains(error_of([&] { load_yaml_string("base: x.yaml\n", c); }), "unknown key 'base'"));
  std::filesystem::remove_all(dir);
}

TEST(Config, FlattenListsLeavesInTableOrder) {
  TestConfig c;
  const auto rows = flatten(c);
  const std::vector<std::pair<std::string, std::string>> want = {
      {"use_kv_cache", "true"},
      {"seed", "7"},
      {"name", "grpo"},
      {"eval_steps", "[10, 20]"},
      {"trainer.lr", "1e-06"},
      {"trainer.steps", "100"},
      {"trainer.sampling.temperature", "1.0"},
      {"trainer.sampling.top_k", "0"},
      {"trainer.sampling.stop", "[</s>]"},
  };
  EXPECT_EQ(rows, want);
  // Every flattened value is accepted back as an override and leaves the config unchanged.
  TestConfig d;
  for (const auto& [k, v] : rows) apply_override(d, k + "=" + v);
  EXPECT_EQ(dump_yaml(d), dump_yaml(c));
}

TEST(Config, HelpAndTableShowKeysTypesDefaultsDocs) {
  TestConfig c;
  const std::string help = describe_fields(c);
  EXPECT_TRUE(contains(help, "trainer.sampling.temperature")) << help;
  EXPECT_TRUE(contains(help, "softmax temperature; 0 = greedy")) << help;
  EXPECT_TRUE(contains(help, "list<int64>")) << help;
  EXPECT_TRUE(contains(help, "\"grpo\"")) << help;
  EXPECT_TRUE(contains(help, "trainer:  (optimizer and rollout settings)")) << help;
  // Each leaf line holds key, type and default in order.
  for (const auto& [key, type, value] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"trainer.lr", "double", "1e-06"},
           {"seed", "uint64", "7"},
           {"use_kv_cache", "bool", "true"}}) {
    const size_t k = help.find(key + " ");
    ASSERT_NE(k, std::string::npos) << key;
    const std::string line = help.substr(k, help.find('\n', k) - k);
    const size_t t = line.find(" " + type + " ");
    const size_t v = line.find(" " + value + " ");
    EXPECT_NE(t, std::string::npos) << line;
    EXPECT_NE(v, std::string::npos) << line;
    EXPECT_LT(t, v) << line;
  }
  const std::string table = config_table(c);
  EXPECT_TRUE(contains(table, "trainer.sampling.top_k       | 0\n")) << table;
  EXPECT_TRUE(contains(table, "seed                         | 7\n")) << table;
}

struct DuplicateNames {
  int a = 0, b = 0;
  template <class V>
  void visit_fields(V& v) {
    v("a", a, "");
    v("a", b, "");
  }
};

TEST(Config, DuplicateFieldNameInTableIsRejected) {
  DuplicateNames d;
  EXPECT_TRUE(contains(error_of([&] { flatten(d); }), "duplicate field name 'a'"));
}

enum class Agg : int { kSeqMean, kTokenMean, kSumNorm };
const std::vector<const char*>& enum_names(Agg) {
  static const std::vector<const char*> n = {"seq-mean", "token-mean", "sum-norm"};
  return n;
}

// Fields embedded in another section's table (no section of their own).
struct OptimFields {
  double lr = 1e-6;
  Agg agg = Agg::kSeqMean;
  template <class V>
  void visit_fields(V& v) {
    v("lr", lr, "learning rate");
    v("agg", agg, "aggregation: seq-mean | token-mean | sum-norm");
  }
};

struct EmbeddingSection {
  OptimFields optim;
  int64_t steps = 3;
  template <class V>
  void visit_fields(V& v) {
    optim.visit_fields(v);
    v("steps", steps, "steps");
  }
};

struct EnumConfig {
  EmbeddingSection trainer;
  template <class V>
  void visit_fields(V& v) {
    v("trainer", trainer, "trainer");
  }
};

TEST(Config, EnumFieldsParseByNameAndListTheNamesOnError) {
  EnumConfig c;
  load_yaml_string("trainer:\n  agg: token-mean\n  lr: 0.5\n", c, "t.yaml");
  EXPECT_EQ(c.trainer.optim.agg, Agg::kTokenMean);
  EXPECT_EQ(c.trainer.optim.lr, 0.5);  // embedded fields live in the embedding section
  apply_override(c, "trainer.agg=sum-norm");
  EXPECT_EQ(c.trainer.optim.agg, Agg::kSumNorm);
  const std::string e = error_of([&] { apply_override(c, "trainer.agg=token_mean"); });
  EXPECT_TRUE(contains(e, "trainer.agg")) << e;
  EXPECT_TRUE(contains(e, "one of seq-mean | token-mean | sum-norm")) << e;
  EXPECT_TRUE(contains(e, "token_mean")) << e;
  EXPECT_EQ(c.trainer.optim.agg, Agg::kSumNorm);  // unchanged on error
  const std::string ey = error_of([&] { load_yaml_string("trainer:\n  agg: 2\n", c, "t.yaml"); });
  EXPECT_TRUE(contains(ey, "t.yaml:2")) << ey;
  EXPECT_TRUE(contains(ey, "one of seq-mean")) << ey;
  // Dump and flatten spell the name; the dump reloads to the same value.
  EXPECT_TRUE(contains(dump_yaml(c), "agg: sum-norm")) << dump_yaml(c);
  EnumConfig back;
  load_yaml_string(dump_yaml(c), back, "dump");
  EXPECT_EQ(back.trainer.optim.agg, Agg::kSumNorm);
  const auto flat = flatten(c);
  ASSERT_EQ(flat.size(), 3u);
  EXPECT_EQ(flat[1].first, "trainer.agg");
  EXPECT_EQ(flat[1].second, "sum-norm");
  EXPECT_STREQ(enum_name(Agg::kTokenMean), "token-mean");
  EXPECT_EQ(parse_enum<Agg>("sum-norm", "x"), Agg::kSumNorm);
  EXPECT_TRUE(contains(error_of([] { parse_enum<Agg>("nope", "algo.name"); }),
                       "algo.name: expected one of seq-mean | token-mean | sum-norm, got 'nope'"));
}


// A list of sections (std::vector of a struct with visit_fields) and a command-line field.
struct ToolEntry {
  std::string name = "default";
  double weight = 1.0;
  CommandLine command;
  template <class V>
  void visit_fields(V& v) {
    v("name", name, "entry name");
    v("weight", weight, "entry weight");
    v("command", command, "program and arguments");
  }
};

struct ListConfig {
  std::vector<ToolEntry> tools = {ToolEntry{}};
  int64_t after = 3;
  template <class V>
  void visit_fields(V& v) {
    v("tools", tools, "the tools");
    v("after", after, "a key after the list");
  }
};

TEST(Config, ListsOfSectionsLoadFlattenDumpAndOverride) {
  ListConfig c;
  load_yaml_string(
      "tools:\n"
      "  - {name: a, weight: 0.5, command: \"python3 'my script.py' --x 1\"}\n"
      "  - name: b\n"
      "    command: [sh, -c, \"echo hi\"]\n"
      "after: 4\n",
      c, "t.yaml");
  ASSERT_EQ(c.tools.size(), 2u);
  EXPECT_EQ(c.tools[0].name, "a");
  EXPECT_EQ(c.tools[0].weight, 0.5);
  EXPECT_EQ(c.tools[0].command.words,
            (std::vector<std::string>{"python3", "my script.py", "--x", "1"}));
  EXPECT_EQ(c.tools[1].weight, 1.0);  // an absent key of an element keeps the element default
  EXPECT_EQ(c.tools[1].command.words, (std::vector<std::string>{"sh", "-c", "echo hi"}));
  EXPECT_EQ(c.after, 4);

  // Flattened element by element, in table order.
  const auto flat = flatten(c);
  std::vector<std::string> keys;
  for (const auto& kv : flat) keys.push_back(kv.first);
  EXPECT_EQ(keys, (std::vector<std::string>{"tools[0].name", "tools[0].weight", "tools[0].command",
                                            "tools[1].name", "tools[1].weight", "tools[1].command",
                                            "after"}));
  EXPECT_EQ(flat[2].second, "python3 'my script.py' --x 1");

  // The dump reloads to the same values.
  ListConfig back;
  back.tools.clear();
  load_yaml_string(dump_yaml(c), back, "dump");
  ASSERT_EQ(back.tools.size(), 2u);
  EXPECT_EQ(flatten(back), flat);

  // Overrides: one field of one element, or the whole list.
  apply_override(c, "tools[1].weight=0.25");
  EXPECT_EQ(c.tools[1].weight, 0.25);
  apply_override(c, "tools[0].command=python3 other.py");
  EXPECT_EQ(c.tools[0].command.words, (std::vector<std::string>{"python3", "other.py"}));
  apply_override(c, "tools=[{name: z}]");
  ASSERT_EQ(c.tools.size(), 1u);
  EXPECT_EQ(c.tools[0].name, "z");
  EXPECT_TRUE(c.tools[0].command.words.empty());
  apply_override(c, "tools=[]");
  EXPECT_TRUE(c.tools.empty());
  EXPECT_EQ(flatten(c)[0], (std::pair<std::string, std::string>{"tools", "[]"}));
}

TEST(Config, ListErrorsNameTheElementAndKey) {
  ListConfig c;
  EXPECT_TRUE(contains(error_of([&] { load_yaml_string("tools:\n  - {nme: a}\n", c, "t.yaml"); }),
                       "t.yaml:2: unknown key 'tools[0].nme'"));
  EXPECT_TRUE(contains(error_of([&] { load_yaml_string("tools: 3\n", c, "t.yaml"); }),
                       "key 'tools': expected list of sections"));
  EXPECT_TRUE(contains(error_of([&] { load_yaml_string("tools: [3]\n", c, "t.yaml"); }),
                       "key 'tools[0]': expected a mapping of keys"));
  EXPECT_TRUE(contains(
      error_of([&] { load_yaml_string("tools:\n  - {weight: x}\n", c, "t.yaml"); }),
      "key 'tools[0].weight': expected double"));
  EXPECT_TRUE(contains(
      error_of([&] { load_yaml_string("tools:\n  - {command: \"python3 'open\"}\n", c, "t.yaml"); }),
      "unterminated single quote"));
  EXPECT_TRUE(contains(error_of([&] { apply_override(c, "tools[5].weight=1"); }),
                       "'tools' has 1 entry (indices 0..0)"));
  EXPECT_TRUE(contains(error_of([&] { apply_override(c, "after[0]=1"); }),
                       "not a list of sections"));
  EXPECT_TRUE(contains(error_of([&] { apply_override(c, "tools[x].weight=1"); }),
                       "expected name[index]"));
  EXPECT_EQ(c.tools.size(), 1u);  // errors leave the config as it was
  EXPECT_EQ(c.tools[0].name, "default");
  // --help lists the element's keys once, under name[].
  const std::string help = describe_fields(ListConfig{});
  EXPECT_TRUE(contains(help, "tools[].name")) << help;
  EXPECT_TRUE(contains(help, "tools[].command")) << help;
}

}  // namespace
}  // namespace popo
