// Evaluation harness: pass@k against hand-computed binomials, the Qwen2.5-Math default sampling
// settings, avg@K / pass@K / no-answer aggregation over hand-written responses, and `popo eval`
// end to end on the tiny Qwen2 fixture model with a small trained tokenizer.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/io.h"
#include "eval/evaluator.h"
#include "model/load.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "torch_test_util.h"
#include "core/build_paths.h"

namespace popo {
namespace {

namespace fs = std::filesystem;

TEST(PassAtK, HandComputedTable) {
  struct Case {
    int n, c, k;
    double expected;  // 1 - C(n-c, k) / C(n, k), worked by hand
  };
  const Case cases[] = {
      {5, 2, 1, 0.4},                // 1 - 3/5
      {5, 2, 2, 0.7},                // 1 - C(3,2)/C(5,2) = 1 - 3/10
      {5, 0, 1, 0.0},                // no correct sample
      {5, 0, 5, 0.0},                //
      {5, 4, 2, 1.0},                // n - c = 1 < k: every draw of 2 holds a correct one
      {5, 5, 1, 1.0},                //
      {1, 1, 1, 1.0},                //
      {1, 0, 1, 0.0},                //
      {10, 3, 5, 1.0 - 21.0 / 252},  // C(7,5) = 21, C(10,5) = 252
      {4, 1, 4, 1.0},                // pass@K with K = n: any correct sample passes
      {200, 1, 100, 0.5},            // C(199,100)/C(200,100) = 100/200; huge binomials
      {1000, 10, 1, 0.01},           // pass@1 = c / n
  };
  for (const auto& c : cases) {
    EXPECT_NEAR(pass_at_k(c.n, c.c, c.k), c.expected, 1e-12)
        << "n=" << c.n << " c=" << c.c << " k=" << c.k;
  }
}

TEST(PassAtK, InvalidArgumentsThrow) {
  EXPECT_THROW(pass_at_k(5, 6, 1), Error);   // c > n
  EXPECT_THROW(pass_at_k(5, -1, 1), Error);  // c < 0
  EXPECT_THROW(pass_at_k(5, 2, 0), Error);   // k < 1
  EXPECT_THROW(pass_at_k(5, 2, 6), Error);   // k > n
}

TEST(EvalOptions, QwenMathDefaults) {
  struct Case {
    int samples;
    double temperature, top_p;  // given (-1 = unset)
    double want_temperature, want_top_p;
  };
  const Case cases[] = {
      {1, -1, -1, 0.0, 1.0},    // greedy for one sample
      {16, -1, -1, 0.6, 0.95},  // sampling for K > 1
      {4, 1.0, -1, 1.0, 0.95},  // a given temperature is kept
      {1, 0.7, 0.9, 0.7, 0.9},  //
  };
  for (const auto& c : cases) {
    EvalOptions o;
    o.samples = c.samples;
    o.temperature = c.temperature;
    o.top_p = c.top_p;
    const EvalOptions r = resolve_eval_options(o);
    EXPECT_DOUBLE_EQ(r.temperature, c.want_temperature) << "K=" << c.samples;
    EXPECT_DOUBLE_EQ(r.top_p, c.want_top_p) << "K=" << c.samples;
    EXPECT_EQ(r.template_name, "qwen-boxed");
  }
  EvalOptions bad;
  bad.template_name = "alpaca";
  EXPECT_THROW(resolve_eval_options(bad), Error);
  bad = EvalOptions{};
  bad.samples = 0;
  EXPECT_THROW(resolve_eval_options(bad), Error);
}

TEST(EvalAggregation, AvgAndPassAtKOverFakeResponses) {
  const std::vector<MathProblem> problems = {
      {"p0", "2+2?", "4"}, {"p1", "half of one?", "\\frac{1}{2}"}, {"p2", "3+4?", "7"}};
  struct Fake {
    int problem;
    std::string response;
    int64_t tokens;
    std::string finish;
  };
  // K = 4 per problem. p0: 2 correct, 1 wrong, 1 no answer; p1: none correct, 1 no answer (cut
  // by the token budget); p2: 4 correct through "The answer is".
  const std::vector<Fake> fakes = {
      {0, "so \\boxed{4}", 10, "stop"},   {0, "\\boxed{4.0}", 20, "stop"},
      {0, "\\boxed{5}", 30, "stop"},      {0, "I do not know", 40, "stop"},
      {1, "\\boxed{3}", 10, "stop"},      {1, "\\boxed{2}", 10, "stop"},
      {1, "\\boxed{1}", 10, "stop"},      {1, "half of one is", 100, "length"},
      {2, "The answer is 7.", 5, "stop"}, {2, "The answer is 7", 5, "stop"},
      {2, "\\boxed{7}", 5, "stop"},       {2, "\\boxed{\\frac{14}{2}}", 5, "stop"},
  };
  EvalOptions o;
  std::vector<EvalSample> samples;
  int sample_of[3] = {0, 0, 0};
  for (const auto& f : fakes) {
    samples.push_back(judge_response(problems[f.problem], f.problem, sample_of[f.problem]++,
                                     "prompt", f.response, f.tokens, f.finish, o));
  }
  const EvalResult r = summarize_samples("fake", /*num_problems=*/3, /*k=*/4, samples);
  EXPECT_EQ(r.problems, 3);
  EXPECT_EQ(r.samples, 4);
  EXPECT_EQ(r.responses, 12);
  EXPECT_EQ(r.correct, 6);
  EXPECT_EQ(r.correct_per_problem, (std::vector<int>{2, 0, 4}));
  EXPECT_DOUBLE_EQ(r.avg_at_k, 6.0 / 12);
  EXPECT_DOUBLE_EQ(r.pass_at_k, (1.0 + 0.0 + 1.0) / 3);
  EXPECT_EQ(r.no_answer, 2);
  EXPECT_DOUBLE_EQ(r.no_answer_share, 2.0 / 12);
  EXPECT_EQ(r.truncated, 1);
  EXPECT_DOUBLE_EQ(r.mean_response_tokens, (10 + 20 + 30 + 40 + 30 + 100 + 20) / 12.0);
  EXPECT_EQ(samples[8].rule, "answer_is");
  EXPECT_EQ(samples[0].extracted, "4");

  // The JSONL has one parseable row per sample, in problem then sample order.
  std::istringstream in(samples_to_jsonl(samples));
  std::string line;
  int rows = 0;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["id"], problems[rows / 4].id);
    EXPECT_EQ(j["sample"], rows % 4);
    EXPECT_EQ(j["correct"].get<bool>(), samples[rows].correct);
    ++rows;
  }
  EXPECT_EQ(rows, 12);

  // A missing sample is an error, not a silently smaller denominator.
  samples.pop_back();
  EXPECT_THROW(summarize_samples("fake", 3, 4, samples), Error);
}

TEST(EvalAggregation, ExtractionSettingDecidesUnboxedAnswers) {
  const MathProblem p{"g0", "eggs?", "18"};
  EvalOptions o;  // reward.extraction = math_verify: the last number counts
  EvalSample s = judge_response(p, 0, 0, "", "She makes 18 dollars.", 5, "stop", o);
  EXPECT_TRUE(s.correct);
  EXPECT_EQ(s.rule, "last_number");
  o.verify.extraction = ExtractMode::kBoxed;  // strict boxed grading: no answer ...
  EXPECT_EQ(judge_response(p, 0, 0, "", "She makes 18 dollars.", 5, "stop", o).verdict,
            "no_answer");
  o.last_number = true;  // ... unless the benchmark asks for the last number (GSM8K)
  s = judge_response(p, 0, 0, "", "She makes 18 dollars.", 5, "stop", o);
  EXPECT_TRUE(s.correct);
  EXPECT_EQ(s.rule, "last_number");
}

TEST(EvalTable, MarkdownRowsAndMean) {
  EvalResult a, b;
  a.name = "aime2025";
  a.problems = 30;
  a.samples = 16;
  a.avg_at_k = 0.125;
  a.pass_at_k = 0.5;
  a.mean_response_tokens = 1000;
  b.name = "math500";
  b.problems = 500;
  b.samples = 16;
  b.avg_at_k = 0.75;
  b.pass_at_k = 0.9;
  b.mean_response_tokens = 500;
  const std::string t = format_eval_table({a, b});
  EXPECT_NE(t.find("| aime2025 | 30 | 16 | 12.5 | 50.0 | 1000 |"), std::string::npos) << t;
  EXPECT_NE(t.find("| math500 | 500 | 16 | 75.0 | 90.0 | 500 |"), std::string::npos) << t;
  EXPECT_NE(t.find("| mean |  |  | 43.8 | 70.0 | 750 |"), std::string::npos) << t;
  EXPECT_EQ(format_eval_table({a}).find("| mean |"), std::string::npos);
}

// ---- `popo eval` end to end ---------------------------------------------------------------

// Returns stdout (and stderr when merge_stderr) of `popo args`; *rc gets the exit status.
std::string run_popo(const std::string& args, int* rc, bool merge_stderr = true) {
  const std::string cmd =
      std::string(POPO_BINARY) + " " + args + (merge_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// Returns the rows of a JSONL file.
std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> rows;
  for_each_jsonl(path, [&](const nlohmann::json& j, int) { rows.push_back(j); });
  return rows;
}

// The tiny Qwen2 fixture (vocab 512, context 256) plus a byte-level BPE tokenizer.json trained
// on the benchmark text and the chat template, so prompts fit in the context.
class PopoEval : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(test::scratch_dir("eval_e2e"));
    model_ = new std::string(*dir_ + "/qwen2-tiny");
    fs::create_directories(*model_);
    const std::string src = test::model_fixture("qwen2-tiny");
    for (const char* f : {"config.json", "model.safetensors"}) {
      fs::copy_file(src + "/" + f, *model_ + "/" + f);
    }
    std::vector<std::string> corpus;
    for (const auto& p : {"What is 2 + 3?", "Compute 7 * 6.", "Half of 10 is?"}) {
      corpus.push_back(apply_chat_template("qwen-boxed", p));
    }
    for_each_jsonl(test::data_dir() + "/gsm8k_test.jsonl", [&](const nlohmann::json& j, int line) {
      if (line <= 5) corpus.push_back(j["problem"].get<std::string>());
    });
    write_file_atomic(*model_ + "/tokenizer.json",
                      train_bpe_tokenizer_json(corpus, /*vocab_size=*/500,
                                               {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}));
    data_ = new std::string(*dir_ + "/mini.jsonl");
    write_file_atomic(*data_,
                      "{\"id\": \"a\", \"problem\": \"What is 2 + 3?\", \"answer\": \"5\"}\n"
                      "{\"id\": \"no-answer-row\", \"problem\": \"What is 1 + 1?\"}\n"
                      "{\"id\": \"b\", \"problem\": \"Compute 7 * 6.\", \"answer\": 42}\n"
                      "{\"id\": \"c\", \"problem\": \"Half of 10 is?\", \"answer\": \"5\"}\n"
                      "{\"id\": \"d\", \"problem\": \"Past the limit.\", \"answer\": \"1\"}\n");
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    delete model_;
    delete data_;
  }
  static std::string* dir_;
  static std::string* model_;
  static std::string* data_;
};
std::string* PopoEval::dir_ = nullptr;
std::string* PopoEval::model_ = nullptr;
std::string* PopoEval::data_ = nullptr;

TEST_F(PopoEval, DataKeysReadOtherLayouts) {
  // A verl-style row layout: chat-message prompts, the answer under reward_model.ground_truth.
  const std::string data = *dir_ + "/verl.jsonl";
  write_file_atomic(data,
                    "{\"uid\": \"v1\", \"prompt\": [{\"role\": \"user\", \"content\": \"What is 2 + 3?\"}], "
                    "\"reward_model\": {\"ground_truth\": \"5\"}}\n"
                    "{\"uid\": \"v2\", \"prompt\": [{\"role\": \"user\", \"content\": \"Compute 7 * 6.\"}], "
                    "\"reward_model\": {\"ground_truth\": 42}}\n");
  int rc = 0;
  // The default keys find no row of this layout: one error naming them.
  std::string log = run_popo("eval --model " + *model_ + " --data " + data +
                                 " --max-tokens 4 --device cpu --out " + *dir_ + "/verl_default",
                             &rc);
  EXPECT_NE(rc, 0) << log;
  EXPECT_NE(log.find("need 'problem' and 'answer'"), std::string::npos) << log;
  log = run_popo("eval --model " + *model_ + " --data " + data +
                     " --prompt-key prompt --answer-key reward_model.ground_truth --id-key uid"
                     " --max-tokens 4 --device cpu --out " + *dir_ + "/verl_keys",
                 &rc);
  ASSERT_EQ(rc, 0) << log;
  const auto rows = read_jsonl(*dir_ + "/verl_keys/verl.jsonl");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["id"], "v1");
  EXPECT_EQ(rows[1]["id"], "v2");
  EXPECT_EQ(rows[1]["gold"], "42");
  // The conversation went through the template (qwen-boxed: its system turn, then the user's).
  EXPECT_NE(rows[0]["prompt"].get<std::string>().find("<|im_start|>user\nWhat is 2 + 3?<|im_end|>"),
            std::string::npos)
      << rows[0]["prompt"];
}

TEST_F(PopoEval, RunsEndToEndAndWritesConsistentOutputs) {
  const std::string out = *dir_ + "/out";
  int rc = 0;
  const std::string log = run_popo("eval --model " + *model_ + " --bench gsm8k --data " + *data_ +
                                       " --limit 3 --max-tokens 16 --samples 2 --batch-size 4 "
                                       "--device cpu --out " +
                                       out,
                                   &rc);
  ASSERT_EQ(rc, 0) << log;
  // The row without an answer is skipped and reported with its line number.
  EXPECT_NE(log.find("skipped 1 row"), std::string::npos) << log;
  EXPECT_NE(log.find("lines 2"), std::string::npos) << log;

  const auto summary = nlohmann::json::parse(read_file(out + "/summary.json"));
  EXPECT_DOUBLE_EQ(summary["settings"]["temperature"].get<double>(), 0.6);  // K = 2 default
  EXPECT_DOUBLE_EQ(summary["settings"]["top_p"].get<double>(), 0.95);
  ASSERT_EQ(summary["benchmarks"].size(), 2u);
  const std::vector<std::string> names = {"gsm8k", "mini"};
  for (size_t b = 0; b < 2; ++b) {
    const auto& s = summary["benchmarks"][b];
    SCOPED_TRACE(names[b]);
    EXPECT_EQ(s["name"], names[b]);
    EXPECT_EQ(s["problems"], 3);
    EXPECT_EQ(s["samples"], 2);
    EXPECT_EQ(s["responses"], 6);
    EXPECT_EQ(s["skipped_rows"], b == 1 ? 1 : 0);
    const auto rows = read_jsonl(out + "/" + names[b] + ".jsonl");
    ASSERT_EQ(rows.size(), 6u);
    int correct = 0, no_answer = 0, tokens = 0;
    for (const auto& r : rows) {
      for (const char* key : {"id", "prompt", "response", "extracted", "rule", "correct"}) {
        EXPECT_TRUE(r.contains(key)) << key << " missing in " << r.dump();
      }
      correct += r["correct"].get<bool>();
      no_answer += r["verdict"] == "no_answer";
      tokens += r["response_tokens"].get<int>();
      EXPECT_LE(r["response_tokens"].get<int>(), 16);
      EXPECT_GE(r["response_tokens"].get<int>(), 1);
      EXPECT_NE(r["prompt"].get<std::string>().find("\\boxed{}"), std::string::npos);
    }
    EXPECT_EQ(s["correct"], correct);
    EXPECT_EQ(s["no_answer"], no_answer);
    EXPECT_DOUBLE_EQ(s["avg_at_k"].get<double>(), correct / 6.0);
    EXPECT_DOUBLE_EQ(s["no_answer_share"].get<double>(), no_answer / 6.0);
    EXPECT_DOUBLE_EQ(s["mean_response_tokens"].get<double>(), tokens / 6.0);
    EXPECT_GE(s["pass_at_k"].get<double>(), s["avg_at_k"].get<double>());
    // Rows are grouped by problem: the K = 2 samples of the first problem come first.
    EXPECT_EQ(rows[0]["id"], rows[1]["id"]);
    EXPECT_EQ(rows[0]["sample"], 0);
    EXPECT_EQ(rows[1]["sample"], 1);
  }
  const std::string md = read_file(out + "/summary.md");
  EXPECT_NE(md.find("| gsm8k | 3 | 2 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| mini | 3 | 2 |"), std::string::npos) << md;
  EXPECT_EQ(read_jsonl(out + "/mini.jsonl")[4]["id"], "c");  // --limit 3 keeps a, b, c
}

TEST_F(PopoEval, LibraryGreedyIsBatchIndependentAndLongPromptsScoreNoAnswer) {
  CausalLM model = load_model(*model_, torch::kFloat32, torch::kCPU);
  const Tokenizer tok = Tokenizer::from_file(*model_ + "/tokenizer.json");
  std::string long_problem;
  for (int i = 0; i < 300; ++i) long_problem += " x" + std::to_string(i);  // > 256 tokens
  const std::vector<MathProblem> problems = {{"a", "What is 2 + 3?", "5"},
                                             {"long", long_problem, "1"},
                                             {"b", "Compute 7 * 6.", "42"},
                                             {"c", "Half of 10 is?", "5"}};
  EvalOptions o;
  o.max_new_tokens = 12;
  o.show_progress = false;
  o.batch_rollouts = 1;  // one prompt per generate call, no padding
  const std::string jsonl = *dir_ + "/lib.jsonl";
  const EvalResult one = evaluate(model, tok, problems, o, jsonl);
  o.batch_rollouts = 4;  // all prompts in one left-padded batch
  const EvalResult all = evaluate(model, tok, problems, o, *dir_ + "/lib_batched.jsonl");
  EXPECT_EQ(one.temperature, 0.0);  // K = 1: greedy
  EXPECT_EQ(one.responses, 4);
  const auto rows = read_jsonl(jsonl);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[1]["id"], "long");
  EXPECT_EQ(rows[1]["finish"], "prompt_too_long");
  EXPECT_EQ(rows[1]["verdict"], "no_answer");
  EXPECT_EQ(rows[1]["response_tokens"], 0);
  EXPECT_GE(one.no_answer, 1);
  const auto batched = read_jsonl(*dir_ + "/lib_batched.jsonl");
  ASSERT_EQ(batched.size(), 4u);
  for (size_t i = 0; i < rows.size(); ++i) {
    const int tokens = rows[i]["response_tokens"].get<int>();
    EXPECT_LE(tokens, 12);
    if (rows[i]["finish"] == "length") {
      EXPECT_EQ(tokens, 12);
    }
    // Greedy responses do not depend on how prompts are batched (left padding is masked).
    EXPECT_EQ(rows[i]["response"], batched[i]["response"]) << "problem " << rows[i]["id"];
  }
  EXPECT_EQ(one.correct, all.correct);
  EXPECT_DOUBLE_EQ(one.mean_response_tokens, all.mean_response_tokens);
}

TEST_F(PopoEval, UnknownBenchmarkIsAnErrorListingKnownOnes) {
  int rc = 0;
  const std::string log = run_popo("eval --model " + *model_ + " --bench math500,aime2099", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(log.find("aime2099"), std::string::npos) << log;
  EXPECT_NE(log.find("aime2025"), std::string::npos) << log;  // the known names are listed
  EXPECT_NE(log.find("gsm8k"), std::string::npos) << log;
}

TEST_F(PopoEval, MissingAnswerWithStrictIsAnErrorNamingFileAndLine) {
  int rc = 0;
  const std::string log =
      run_popo("eval --model " + *model_ + " --data " + *data_ + " --strict", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(log.find(*data_ + ":2"), std::string::npos) << log;
  EXPECT_NE(log.find("answer"), std::string::npos) << log;
}

TEST_F(PopoEval, MissingModelFolderIsAClearError) {
  int rc = 0;
  const std::string missing = *dir_ + "/no-such-model";
  const std::string log = run_popo("eval --model " + missing + " --data " + *data_, &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(log.find(missing), std::string::npos) << log;
  EXPECT_NE(log.find("not found"), std::string::npos) << log;
}

}  // namespace
}  // namespace popo
