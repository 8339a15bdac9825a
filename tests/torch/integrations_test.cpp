// A researcher's reward, data and logs through the trainer (issue #20): a verl-layout dataset
// (chat-message prompts, reward_model.ground_truth, extra fields) on a tiny Hugging Face model,
// the four kinds of reward function with their weights, the example command reward and a
// recording one, the metrics they log, and the TensorBoard events file against metrics.jsonl;
// then a command reward that dies mid-run: one clear error, a checkpoint, and a resume that
// continues into a new events file.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/io.h"
#include "core/metrics.h"
#include "core/tensorboard.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/chat_template.h"
#include "train/checkpoint.h"
#include "train/trainer.h"
#include "torch_test_util.h"

namespace popo {
namespace {

namespace fs = std::filesystem;

using test::quiet;

std::string checkout_path(const std::string& rel) {
  // The examples/ folder sits beside tests/ in the checkout.
  return (fs::path(test::fixtures_dir()).parent_path().parent_path() / rel).string();
}

// The expected chatml prompt of a row: written out by hand from the ChatML layout (the oracle
// tests check render_chat against transformers' apply_chat_template).
std::string chatml_prompt(const std::string& system, const std::string& user) {
  return "<|im_start|>system\n" + system + "<|im_end|>\n<|im_start|>user\n" + user +
         "<|im_end|>\n<|im_start|>assistant\n";
}

// Every metrics row's numbers by step, and every TensorBoard scalar by (step, tag), of a run.
void expect_tensorboard_matches_metrics(const std::string& run, size_t want_files) {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(run + "/tb")) {
    if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0) files.push_back(e.path());
  }
  ASSERT_EQ(files.size(), want_files) << run;
  std::map<std::pair<int64_t, std::string>, float> tb;
  for (const std::string& f : files) {
    const std::vector<TensorBoardEvent> events = read_tensorboard_events(f);  // checks every CRC
    ASSERT_FALSE(events.empty()) << f;
    EXPECT_EQ(events[0].file_version, "brain.Event:2") << f;
    for (const TensorBoardEvent& ev : events) {
      for (const auto& [tag, value] : ev.scalars) tb[{ev.step, tag}] = value;
    }
  }
  size_t compared = 0;
  for (const nlohmann::json& row : read_metrics(run + "/metrics.jsonl")) {
    const int64_t step = row["step"].get<int64_t>();
    for (const auto& [key, v] : row.items()) {
      if (key == "step" || !v.is_number()) continue;
      const double want = v.get<double>();
      if (!std::isfinite(want)) continue;
      auto it = tb.find({step, key});
      ASSERT_NE(it, tb.end()) << "step " << step << " " << key << " not in TensorBoard";
      EXPECT_EQ(it->second, static_cast<float>(want)) << "step " << step << " " << key;
      ++compared;
    }
  }
  EXPECT_GT(compared, 20u);
}

// A run of `steps` steps of 2 prompts x G = 2, no evaluation or checkpoint between, into
// dir/runs/run.
RunConfig short_run(RunConfig c, int64_t steps, const std::string& dir) {
  c.trainer.optim.steps = steps;
  c.trainer.prompts_per_step = 2;
  c.trainer.group_size = 2;
  c.trainer.update.micro_batch_size = 4;
  c.trainer.eval_every = 0;
  c.trainer.save_every = 0;
  c.trainer.threads = 1;
  c.run.dir = dir + "/runs";
  c.run.name = "run";
  return c;
}

RewardFunctionConfig command_reward(const std::string& name, double weight,
                                    std::vector<std::string> words) {
  RewardFunctionConfig f;
  f.name = name;
  f.kind = RewardKind::kCommand;
  f.weight = weight;
  f.command.words = std::move(words);
  return f;
}

TEST(ResearcherWorld, VerlDataWeightedRewardFunctionsAndTensorBoard) {
  const std::string dir = test::scratch_dir("researcher_world");
  // The tiny Qwen2 fixture with a BPE tokenizer trained on the prompts it will see.
  const std::string model = dir + "/model";
  fs::create_directories(model);
  for (const char* f : {"config.json", "model.safetensors"})
    fs::copy_file(test::model_fixture("qwen2-tiny") + "/" + f, model + "/" + f);
  std::vector<std::string> corpus;
  std::string data;
  for (int i = 0; i < 8; ++i) {
    const std::string q = "What is " + std::to_string(i) + " + 1?";
    corpus.push_back(chatml_prompt("Be brief.", q) + "\\boxed{" + std::to_string(i + 1) + "}");
    nlohmann::json row = {
        {"data_source", "arith"},
        {"prompt", {{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", q}}}},
        {"ability", "math"},
        {"reward_model", {{"style", "rule"}, {"ground_truth", std::to_string(i + 1)}}},
        {"extra_info", {{"split", "train"}, {"index", i}}}};
    data += row.dump() + "\n";
  }
  write_file_atomic(model + "/tokenizer.json",
                    train_bpe_tokenizer_json(corpus, 400, {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}));
  write_file_atomic(dir + "/verl.jsonl", data);
  // The recording reward: writes each request to a file, rewards the response's UTF-8 bytes,
  // reports its code points as a metric.
  const std::string recorder = dir + "/record.py";
  write_file_atomic(recorder,
                    "import json, sys\n"
                    "out = open(sys.argv[1], 'a')\n"
                    "for line in sys.stdin:\n"
                    "    r = json.loads(line)\n"
                    "    out.write(json.dumps(r) + '\\n'); out.flush()\n"
                    "    print(json.dumps({'id': r['id'], 'reward': len(r['response'].encode('utf-8')),\n"
                    "                      'metrics': {'chars': len(r['response'])}}), flush=True)\n");

  RunConfig c = default_run_config();
  c.model.path = model;
  c.data.dataset = dir + "/verl.jsonl";
  c.data.heldout = dir + "/verl.jsonl";
  c.data.heldout_size = 2;
  c.data.template_name = "chatml";
  c.data.prompt_key = "prompt";
  c.data.answer_key = "reward_model.ground_truth";
  c.data.id_key = "extra_info.index";
  c.sampling.max_new_tokens = 6;
  c = short_run(c, 2, dir);
  RewardFunctionConfig correct, fmt;
  fmt.name = "fmt";
  fmt.kind = RewardKind::kFormat;
  fmt.weight = 0;  // logged only
  c.reward.functions = {
      correct, fmt,
      command_reward("length_format", 0.5,
                     {"python3", checkout_path("examples/rewards/length_format_reward.py")}),
      command_reward("rec", 0, {"python3", recorder, dir + "/requests.jsonl"})};
  ASSERT_EQ(run_training(c, quiet()).steps_done, 2);

  // What the commands saw: every rollout once, with the conversation's chatml prompt, the answer
  // from reward_model.ground_truth and the row's other fields as metadata.
  std::vector<nlohmann::json> requests;
  for_each_jsonl(dir + "/requests.jsonl", [&](const nlohmann::json& j, int) { requests.push_back(j); });
  ASSERT_EQ(requests.size(), 2u * 2u * 2u);  // steps x prompts x G
  std::set<std::string> ids;
  for (const nlohmann::json& r : requests) {
    ids.insert(r["id"].get<std::string>());
    const std::string answer = r["answer"].get<std::string>();
    const int i = std::stoi(answer) - 1;
    EXPECT_EQ(r["prompt"].get<std::string>(), chatml_prompt("Be brief.", "What is " + std::to_string(i) + " + 1?"));
    EXPECT_EQ(r["metadata"], nlohmann::json::parse("{\"data_source\": \"arith\", \"ability\": \"math\", "
                                                   "\"reward_model\": {\"style\": \"rule\"}, "
                                                   "\"extra_info\": {\"split\": \"train\"}}"));
  }
  EXPECT_EQ(ids.size(), requests.size()) << "request ids repeat";

  // Each function's mean, the command's extra metric, and the step reward as the weighted sum.
  const std::vector<nlohmann::json> rows = read_metrics(c.run.dir + "/run/metrics.jsonl");
  int steps_seen = 0;
  for (const nlohmann::json& row : rows) {
    const int64_t step = row["step"].get<int64_t>();
    if (step == 0) continue;
    ++steps_seen;
    double rec_mean = 0, chars_mean = 0;
    int n = 0;
    for (const nlohmann::json& r : requests) {
      if (r["id"].get<std::string>().rfind("s" + std::to_string(step) + "-", 0) != 0) continue;
      const std::string resp = r["response"].get<std::string>();
      rec_mean += static_cast<double>(resp.size());
      for (unsigned char ch : resp) chars_mean += (ch & 0xC0) != 0x80;  // UTF-8 lead bytes
      ++n;
    }
    ASSERT_EQ(n, 4) << step;
    EXPECT_NEAR(row["reward/rec"].get<double>(), rec_mean / n, 1e-9) << step;
    EXPECT_NEAR(row["reward/rec/chars"].get<double>(), chars_mean / n, 1e-9) << step;
    for (const char* k : {"reward/correct", "reward/fmt", "reward/length_format"}) {
      ASSERT_TRUE(row.contains(k)) << k;
      EXPECT_GE(row[k].get<double>(), -1.0);
      EXPECT_LE(row[k].get<double>(), 1.0);
    }
    EXPECT_NEAR(row["reward/mean"].get<double>(),
                row["reward/correct"].get<double>() + 0.5 * row["reward/length_format"].get<double>(),
                1e-6)
        << step;
  }
  EXPECT_EQ(steps_seen, 2);
  expect_tensorboard_matches_metrics(c.run.dir + "/run", 1);
}

TEST(ResearcherWorld, CommandFaultCheckpointsAndResumeAppendsANewEventsFile) {
  const std::string dir = test::scratch_dir("reward_fault");
  // Answers one step's batch (P x G = 4 requests), then exits with status 3 mid-way through the
  // next.
  write_file_atomic(dir + "/dies.py",
                    "import json, sys\n"
                    "for n, line in enumerate(sys.stdin):\n"
                    "    if n == 5: sys.exit(3)\n"
                    "    print(json.dumps({'id': json.loads(line)['id'], 'reward': 0}), flush=True)\n");
  write_file_atomic(dir + "/ok.py",
                    "import json, sys\n"
                    "for line in sys.stdin:\n"
                    "    print(json.dumps({'id': json.loads(line)['id'], 'reward': 0}), flush=True)\n");
  RunConfig c = short_run(default_run_config(), 3, dir);
  c.data.rl_subset = 16;
  c.data.heldout_size = 8;
  c.run.cache_dir = (fs::path(testing::TempDir()) / "popo_trainer_test_cache").string();
  RewardFunctionConfig correct;
  c.reward.functions = {correct, command_reward("flaky", 0, {"python3", dir + "/dies.py"})};
  const std::string run = c.run.dir + "/run";
  std::string message;
  try {
    run_training(c, quiet());
  } catch (const Error& e) {
    message = e.what();
  }
  ASSERT_FALSE(message.empty()) << "a dead reward command did not stop the run";
  for (const std::string& part : std::vector<std::string>{"flaky", dir + "/dies.py", "s2-", "checkpoint of step 1",
                                                          "popo train --resume " + run}) {
    EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
  }
  EXPECT_EQ(latest_checkpoint(run + "/checkpoints"), run + "/checkpoints/" + checkpoint_name(1));

  // Resume with the reward fixed: steps 2 and 3, into a second events file.
  TrainOptions o = quiet();
  o.resume_dir = run;
  RunConfig resumed = load_run_config(run, {"reward.functions[1].command=python3 " + dir + "/ok.py"});
  ASSERT_EQ(run_training(resumed, o).steps_done, 3);
  std::vector<int64_t> steps;
  for (const nlohmann::json& row : read_metrics(run + "/metrics.jsonl")) steps.push_back(row["step"].get<int64_t>());
  EXPECT_EQ(steps, (std::vector<int64_t>{0, 1, 2, 3}));
  expect_tensorboard_matches_metrics(run, 2);

  // log.tensorboard=false writes no events file.
  c.reward.functions = {correct};
  c.trainer.optim.steps = 1;
  c.run.name = "no_tb";
  c.log.tensorboard = false;
  ASSERT_EQ(run_training(c, quiet()).steps_done, 1);
  EXPECT_FALSE(fs::exists(c.run.dir + "/no_tb/tb"));
}

}  // namespace
}  // namespace popo
