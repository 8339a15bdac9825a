// Trainer tests: config validation errors, the data cursor, checkpoint write/restore, a shortened
// demonstration whose reward must rise, bitwise resume (2N steps == N + resume + N, also across
// a data-epoch boundary) and the SIGINT path of the real `popo train` program.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <torch/torch.h>

#include "core/config.h"
#include "core/error.h"
#include "core/io.h"
#include "core/metrics.h"
#include "model/load.h"
#include "model/safetensors.h"
#include "train/checkpoint.h"
#include "train/compare.h"
#include "train/train_config.h"
#include "train/train_data.h"
#include "train/trainer.h"
#include "torch_test_util.h"
#include "test_util.h"
#include "core/build_paths.h"
#include "program_util.h"

namespace fs = std::filesystem;

namespace popo {
namespace {

// Returns a fresh empty folder under the test temp dir.
std::string fresh_dir(const std::string& name) {
  const fs::path p = fs::path(testing::TempDir()) / ("popo_trainer_test_" + name + "_" +
                                                     std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

// A short version of the demonstration: the same built-in base model (built once per machine
// into a shared cache), RL on a small subset of the training pool, few steps.
RunConfig small_config(const std::string& run_dir) {
  RunConfig c = default_run_config();
  c.data.rl_subset = 16;
  c.data.heldout_size = 40;
  c.trainer.optim.steps = 30;
  c.trainer.prompts_per_step = 8;
  c.trainer.group_size = 8;
  c.trainer.update.micro_batch_size = 32;
  c.trainer.optim.lr = 3e-4;
  c.trainer.optim.warmup_ratio = 0;
  c.trainer.optim.schedule = LrSchedule::kConstant;
  c.trainer.eval_every = 0;
  c.trainer.save_every = 0;
  c.trainer.threads = 1;
  c.run.dir = run_dir;
  c.run.name = "run";
  c.run.cache_dir = (fs::path(testing::TempDir()) / "popo_trainer_test_cache").string();
  return c;
}

using test::quiet;

// ---- config validation ------------------------------------------------------------------------

struct BadInput {
  std::vector<std::string> overrides;
  std::string expected;  // substring of the error message
};

TEST(RunConfig, RejectsBadInputsWithClearErrors) {
  const std::string dir = fresh_dir("bad");
  // A model folder with config.json but no tokenizer.json.
  const std::string no_tok = dir + "/model_without_tokenizer";
  fs::create_directories(no_tok);
  write_file_atomic(no_tok + "/config.json", "{}");
  const std::vector<BadInput> cases = {
      {{"algo.name=ppo"}, "ppo"},
      {{"data.dataset=/nonexistent/train.jsonl"}, "does not exist"},
      {{"data.heldout=no_such_benchmark"}, "does not exist"},
      {{"model.path=" + no_tok}, "tokenizer.json"},
      {{"model.path=/nonexistent/model"}, "not a folder"},
      {{"algo.name=grpo", "trainer.group_size=1", "trainer.micro_batch_size=1"}, "group_size"},
      {{"trainer.prompts_per_step=3", "trainer.group_size=4", "trainer.micro_batch_size=8"}, "divisible"},
      {{"trainer.schedule=linear"}, "cosine | constant"},
      {{"data.template=alpaca"}, "data.template"},
      {{"trainer.steps=0"}, "trainer.steps"},
      {{"model.device=tpu"}, "model.device"},
      {{"data.arithmetic.max_digits=0"}, "data.arithmetic"},
  };
  for (const auto& c : cases) {
    RunConfig cfg = default_run_config();
    try {  // an enum value fails at load (apply_overrides), the rest at validation
      apply_overrides(cfg, c.overrides);
      validate_run_config(cfg);
      ADD_FAILURE() << "no error for " << c.overrides[0];
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.expected), std::string::npos)
          << "overrides " << c.overrides[0] << ": message '" << e.what() << "' lacks '"
          << c.expected << "'";
    }
  }
  // An unknown key is rejected by the config loader itself, with a suggestion.
  RunConfig cfg = default_run_config();
  EXPECT_THROW(apply_override(cfg, "trainer.lrr=1e-3"), Error);
  // And the defaults are valid.
  EXPECT_NO_THROW(validate_run_config(default_run_config()));
}

// reward.extraction reaches the verifier options the trainer grades with (rollout rewards and
// held-out accuracy both read cfg.reward.verify_options()); a bad value fails validation by name.
TEST(RunConfig, RewardExtractionKey) {
  RunConfig cfg = default_run_config();
  EXPECT_EQ(cfg.reward.extraction, "math_verify");
  EXPECT_EQ(cfg.reward.verify_options().extraction, ExtractMode::kMathVerify);
  apply_override(cfg, "reward.extraction=boxed");
  EXPECT_NO_THROW(validate_run_config(cfg));
  const VerifyOptions opt = cfg.reward.verify_options();
  EXPECT_EQ(opt.extraction, ExtractMode::kBoxed);
  EXPECT_EQ(math_reward("The answer is 7.", "7", opt), 0.0);
  EXPECT_EQ(math_reward("The answer is 7.", "7", default_run_config().reward.verify_options()), 1.0);
  apply_override(cfg, "reward.extraction=lenient");
  try {
    validate_run_config(cfg);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("reward.extraction"), std::string::npos) << e.what();
  }
}

TEST(RunConfig, ConfigFilesMatchBuiltInDefaultsAndCompareMethods) {
  const std::string root = source_file(__FILE__).parent_path().parent_path().parent_path().string();
  RunConfig from_file = default_run_config();
  load_yaml_file(root + "/configs/default.yaml", from_file);
  EXPECT_EQ(dump_yaml(from_file), dump_yaml(default_run_config()))
      << "configs/default.yaml differs from the built-in default";
  for (const std::string m : {"grpo", "psr", "raft"}) {
    RunConfig expected = default_run_config();
    apply_overrides(expected, compare_method_overrides(m));
    RunConfig got = default_run_config();
    load_yaml_file(root + "/configs/" + m + ".yaml", got);
    EXPECT_EQ(dump_yaml(got), dump_yaml(expected)) << "configs/" << m << ".yaml";
  }
}

// A summary as summarize_run_metrics would leave it.
RunSummary summary(const std::string& method, double end, double update_s) {
  RunSummary r;
  r.method = method;
  r.lr = 3e-4;
  r.steps = 250;
  r.base_heldout = 0.372;
  r.final_heldout = end;
  r.best_heldout = end + 0.01;
  r.pass_curve = {{1, 0.4}, {2, 0.5}, {4, 0.6}};
  r.wall_seconds = 480;
  r.mean_update_seconds = update_s;
  r.mean_rollout_seconds = 0.9;
  return r;
}

TEST(Compare, TableMeansSdsAndTwoStandardErrors) {
  // popo ends at 50/52/54% (mean 52.0, sd 2.0), grpo at 44/45/46% (45.0, sd 1.0): the difference
  // -7.0 has SE sqrt(2^2/3 + 1^2/3) = 1.29 and exceeds 2 SE; raft at 49/51/53% (51.0, sd 2.0):
  // -1.0 with SE sqrt(4/3 + 4/3) = 1.63 does not. Update time 0.8 s against GRPO's 2.0 s: -60%.
  std::vector<RunSummary> runs;
  for (double e : {0.50, 0.52, 0.54}) runs.push_back(summary("popo", e, 0.8));
  for (double e : {0.44, 0.45, 0.46}) runs.push_back(summary("grpo", e, 2.0));
  for (double e : {0.49, 0.51, 0.53}) runs.push_back(summary("raft", e, 0.5));
  runs[0].mean_neg_logp_delta = -0.02, runs[0].neg_logp_steps = 25;
  const std::string md = compare_table_markdown(runs);
  EXPECT_NE(md.find("| pass@1 end | pass@4 end | end − popo |"), std::string::npos) << md;
  EXPECT_NE(md.find("| popo | 3 | 0.0003 | 37.2 ± 0.0% | 52.0 ± 2.0% | 53.0 ± 2.0% | 40.0 ± 0.0% | "
                    "60.0 ± 0.0% | - | 250 ± 0 | 480 ± 0 | 0.800 ± 0.000 | 0.900 ± 0.000 | -60% | -0.0200 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| grpo | 3 | 0.0003 | 37.2 ± 0.0% | 45.0 ± 1.0% |"), std::string::npos) << md;
  EXPECT_NE(md.find("| -7.0 (SE 1.3) ** |"), std::string::npos) << md;
  EXPECT_NE(md.find("| -1.0 (SE 1.6) |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 0.500 ± 0.000 | 0.900 ± 0.000 | -75% | - |"), std::string::npos) << md;
  // One seed: plain values and no standard error; without GRPO no relative column.
  const std::string one = compare_table_markdown({summary("popo", 0.5, 0.8), summary("raft", 0.45, 0.5)});
  EXPECT_NE(one.find("| popo | 1 | 0.0003 | 37.2% | 50.0% | 51.0% |"), std::string::npos) << one;
  EXPECT_NE(one.find("| -5.0 |"), std::string::npos) << one;
  EXPECT_EQ(one.find("vs GRPO"), std::string::npos);
  const std::string pk = pass_at_k_table_markdown(runs);
  EXPECT_NE(pk.find("| method | pass@1 | pass@2 | pass@4 |"), std::string::npos) << pk;
  EXPECT_NE(pk.find("| grpo | 40.0 ± 0.0% | 50.0 ± 0.0% | 60.0 ± 0.0% |"), std::string::npos) << pk;
  const MeanSd m = mean_sd({1, 2, 3, 4});
  EXPECT_DOUBLE_EQ(m.mean, 2.5);
  EXPECT_NEAR(m.sd, std::sqrt(5.0 / 3.0), 1e-12);  // ((1.5^2 + 0.5^2) * 2) / 3
}

TEST(Compare, MethodsGroupsSweepPickAndErrors) {
  EXPECT_EQ(expand_compare_methods("baselines"),
            (std::vector<std::string>{"popo", "grpo", "psr", "nsr", "w_reinforce", "raft", "rloo"}));
  const auto abl = expand_compare_methods("ablations");
  ASSERT_EQ(abl.size(), 7u);
  for (const std::string& m : abl) EXPECT_EQ(compare_sweep_method(m), "popo") << m;
  EXPECT_EQ(compare_sweep_method("grpo"), "grpo");
  EXPECT_THROW(expand_compare_methods("popo,ppo"), Error);
  EXPECT_THROW(expand_compare_methods("popo,baselines"), Error);  // popo twice
  EXPECT_THROW(expand_compare_methods(","), Error);
  EXPECT_THROW(compare_method_overrides("ppo"), Error);
  // Each ablation is one switch away from popo, and a valid config.
  const std::map<std::string, std::string> switches = {
      {"popo-no-sim", "popo.sim_coef=0"},       {"popo-no-entropy", "popo.entropy_coef=0"},
      {"popo-uniform", "popo.weights=uniform"}, {"popo-frozen", "popo.momentum=1"},
      {"popo-tau0", "popo.momentum=0"},         {"popo-no-noise", "popo.noise_std=0"}};
  for (const auto& [m, sw] : switches) {
    RunConfig a = default_run_config(), b = default_run_config();
    apply_overrides(a, compare_method_overrides(m));
    apply_overrides(b, {"algo.name=popo", sw});
    EXPECT_EQ(dump_yaml(a), dump_yaml(b)) << m;
    EXPECT_NE(dump_yaml(a), dump_yaml(default_run_config())) << m;
    EXPECT_NO_THROW(validate_run_config(a)) << m;
  }
  // The best score wins; a tie goes to the point listed first.
  const std::vector<SweepPoint> pts = {{"popo", 1e-4, 0.40, ""}, {"popo", 3e-4, 0.55, ""},
                                       {"popo", 1e-3, 0.55, ""}, {"grpo", 1e-4, 0.5, ""},
                                       {"grpo", 3e-4, 0.2, ""}};
  EXPECT_EQ(pick_lr(pts, "popo"), 3e-4);
  EXPECT_EQ(pick_lr(pts, "grpo"), 1e-4);
  EXPECT_THROW(pick_lr(pts, "raft"), Error);
  const std::string sw = sweep_table_markdown(pts);
  EXPECT_NE(sw.find("| popo | 40.0% | **55.0%** | 55.0% | 0.0003 |"), std::string::npos) << sw;
  EXPECT_NE(sw.find("| grpo | **50.0%** | 20.0% | - | 0.0001 |"), std::string::npos) << sw;
}

TEST(Compare, SummaryReadsTheMetricsRows) {
  const std::string dir = fresh_dir("summary");
  {
    MetricsWriter w(dir + "/metrics.jsonl");
    w.write(0, {{"heldout/accuracy", 0.30}, {"time/eval", 2.0}});
    w.write(1, {{"time/step", 1.0}, {"time/update", 0.4}, {"time/rollout", 0.5}, {"popo/neg_logp_delta", -0.03}});
    w.write(2, {{"time/step", 3.0}, {"time/update", 0.6}, {"time/rollout", 0.7}, {"heldout/accuracy", 0.50}});
    w.write(3, {{"time/step", 2.0}, {"time/update", 0.5}, {"time/rollout", 0.6}, {"popo/neg_logp_delta", -0.01},
                {"heldout/accuracy", 0.45}, {"heldout/k", 4}, {"heldout/pass_at_1", 0.4},
                {"heldout/pass_at_2", 0.55}, {"heldout/pass_at_4", 0.7}});
  }
  const RunSummary s = summarize_run_metrics(dir + "/metrics.jsonl");
  EXPECT_EQ(s.steps, 3);
  EXPECT_DOUBLE_EQ(s.base_heldout, 0.30);
  EXPECT_DOUBLE_EQ(s.final_heldout, 0.45);
  EXPECT_DOUBLE_EQ(s.best_heldout, 0.50);
  EXPECT_DOUBLE_EQ(s.wall_seconds, 8.0);  // 2 + 1 + 3 + 2
  EXPECT_DOUBLE_EQ(s.mean_update_seconds, 0.5);
  EXPECT_DOUBLE_EQ(s.mean_rollout_seconds, 0.6);
  EXPECT_DOUBLE_EQ(s.mean_neg_logp_delta, -0.02);
  EXPECT_EQ(s.neg_logp_steps, 2);
  EXPECT_EQ(s.pass_curve, (std::vector<std::pair<int64_t, double>>{{1, 0.4}, {2, 0.55}, {4, 0.7}}));
  MetricsWriter(dir + "/empty/metrics.jsonl").write(1, {{"time/step", 1.0}});
  EXPECT_THROW(summarize_run_metrics(dir + "/empty/metrics.jsonl"), Error);
  EXPECT_THROW(summarize_run_metrics(dir + "/none/metrics.jsonl"), Error);
}

// ---- data cursor ------------------------------------------------------------------------------

TEST(DataCursor, VisitsEachProblemOncePerEpochAndResumesTheSameSequence) {
  DataCursor a(/*num_problems=*/10, /*seed=*/3);
  std::vector<int64_t> seq = a.next(25);  // 2.5 epochs
  for (int e = 0; e < 2; ++e) {
    std::set<int64_t> epoch(seq.begin() + e * 10, seq.begin() + (e + 1) * 10);
    EXPECT_EQ(epoch.size(), 10u) << "epoch " << e << " is not a permutation";
  }
  EXPECT_NE(std::vector<int64_t>(seq.begin(), seq.begin() + 10),
            std::vector<int64_t>(seq.begin() + 10, seq.begin() + 20))
      << "epochs should be reshuffled";
  // A cursor rebuilt from (epoch, index) continues identically, also exactly at a boundary.
  for (int64_t cut : {7, 10, 20}) {
    DataCursor first(10, 3);
    first.next(cut);
    DataCursor resumed(10, 3, first.epoch(), first.index());
    EXPECT_EQ(resumed.next(25 - cut), std::vector<int64_t>(seq.begin() + cut, seq.end())) << cut;
  }
}

// ---- checkpoint -------------------------------------------------------------------------------

TEST(Checkpoint, RoundTripsWeightsOptimizerAndStateAndKeepsTheLastK) {
  const std::string dir = fresh_dir("ckpt");
  ModelConfig mc;
  mc.model_type = "qwen2";
  mc.vocab_size = 40;
  mc.hidden_size = 16;
  mc.intermediate_size = 32;
  mc.num_hidden_layers = 1;
  mc.num_attention_heads = 2;
  mc.num_key_value_heads = 1;
  mc.head_dim = 8;
  mc.max_position_embeddings = 64;
  mc.tie_word_embeddings = true;
  mc.attention_bias = true;
  mc.eos_token_ids = {1};
  CausalLM policy = make_random_model(mc, /*seed=*/1);
  torch::optim::AdamW opt(policy->parameters(), torch::optim::AdamWOptions(1e-2));
  // One real step so the optimizer has state.
  auto loss = policy->forward(torch::tensor({{2, 3, 4}}, torch::kLong), torch::Tensor()).pow(2).mean();
  loss.backward();
  opt.step();
  CheckpointParts parts;
  parts.policy = &policy;
  parts.optimizer = &opt;
  TrainerState st;
  for (int64_t step : {5, 10, 15}) {
    st.step = step;
    st.epoch = step / 5;
    st.cursor = 3;
    save_checkpoint(dir, parts, st, /*keep_last=*/2);
  }
  // A half-written temporary folder (a crash mid-write) is never taken as a checkpoint.
  fs::create_directories(dir + "/.tmp-step-000020-1/policy");
  EXPECT_EQ(fs::path(latest_checkpoint(dir)).filename(), "step-000015");
  EXPECT_FALSE(fs::exists(dir + "/step-000005")) << "only the last 2 are kept";
  EXPECT_TRUE(fs::exists(dir + "/step-000010"));

  CausalLM other = make_random_model(mc, /*seed=*/2);
  torch::optim::AdamW opt2(other->parameters(), torch::optim::AdamWOptions(1e-2));
  CheckpointParts p2;
  p2.policy = &other;
  p2.optimizer = &opt2;
  TrainerState got = load_checkpoint(latest_checkpoint(dir), p2);
  EXPECT_EQ(got.step, 15);
  EXPECT_EQ(got.epoch, 3);
  EXPECT_EQ(got.cursor, 3);
  auto pa = policy->named_parameters();
  auto pb = other->named_parameters();
  for (const auto& item : pa) {
    EXPECT_TRUE(torch::equal(item.value(), pb[item.key()])) << item.key();
  }
  // The same AdamW state: one more identical step keeps the two models identical.
  auto step_once = [](CausalLM& m, torch::optim::AdamW& o) {
    o.zero_grad();
    m->forward(torch::tensor({{5, 6, 7}}, torch::kLong), torch::Tensor()).pow(2).mean().backward();
    o.step();
  };
  step_once(policy, opt);
  step_once(other, opt2);
  pb = other->named_parameters();
  for (const auto& item : policy->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), pb[item.key()])) << "after a step: " << item.key();
  }
  // The policy folder is a Hugging Face model folder.
  EXPECT_TRUE(fs::exists(latest_checkpoint(dir) + "/policy/config.json"));
  CausalLM reloaded = load_model(latest_checkpoint(dir) + "/policy", torch::kFloat, torch::kCPU);
  EXPECT_EQ(reloaded->config().hidden_size, 16);
}

// ---- end to end -------------------------------------------------------------------------------

// Returns the metric key of every row of a run's metrics.jsonl (rows without it skipped).
std::vector<double> metric_column(const std::string& run_dir, const std::string& key) {
  std::vector<double> out;
  for (const auto& row : read_metrics(run_dir + "/metrics.jsonl")) {
    if (row.contains(key) && row.at(key).is_number()) out.push_back(row.at(key).get<double>());
  }
  return out;
}

TEST(Trainer, ShortDemoRaisesTheReward) {
  const std::string dir = fresh_dir("demo");
  RunConfig cfg = small_config(dir);
  TrainResult r = run_training(cfg, quiet());
  ASSERT_EQ(r.steps_done, 30);
  const auto reward = metric_column(r.run_dir, "reward/mean");
  ASSERT_EQ(reward.size(), 30u);
  double first = 0, last = 0;
  for (int i = 0; i < 10; ++i) first += reward[i] / 10;
  for (int i = 20; i < 30; ++i) last += reward[i] / 10;
  EXPECT_GT(last, first + 0.1) << "mean reward of the last 10 steps " << last
                               << " vs the first 10 " << first;
  for (const std::string key : {"popo/nll_loss", "entropy", "grad_norm", "time/update"}) {
    for (double v : metric_column(r.run_dir, key)) EXPECT_TRUE(std::isfinite(v)) << key;
  }
  EXPECT_TRUE(fs::exists(r.run_dir + "/config.resolved.yaml"));
  EXPECT_TRUE(fs::exists(r.run_dir + "/plots/training.svg"));
  EXPECT_TRUE(fs::exists(latest_checkpoint(r.run_dir + "/checkpoints") + "/policy/tokenizer.json"));

  // The final held-out table (the eval layer's samples JSONL): one row per problem with its
  // prompt and gold answer, each verdict re-derivable from the row alone, and the share of
  // correct rows equal to the logged accuracy.
  char eval_name[64];
  std::snprintf(eval_name, sizeof(eval_name), "/eval/eval_step-%06lld.jsonl",
                static_cast<long long>(cfg.trainer.optim.steps));
  std::ifstream in(r.run_dir + eval_name);
  ASSERT_TRUE(in.good()) << r.run_dir + eval_name;
  int64_t rows = 0, correct = 0;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    ++rows;
    const std::string problem = j.at("prompt"), answer = j.at("gold");
    EXPECT_EQ(problem.rfind("Question: Compute ", 0), 0u) << problem;
    EXPECT_EQ(j.at("correct").get<bool>(),
              math_reward(j.at("response").get<std::string>(), answer, cfg.reward.verify_options()) > 0)
        << problem;
    correct += j.at("correct").get<bool>() ? 1 : 0;
  }
  EXPECT_EQ(rows, cfg.data.heldout_size);
  const auto acc = metric_column(r.run_dir, "heldout/accuracy");
  ASSERT_FALSE(acc.empty());
  EXPECT_NEAR(acc.back(), static_cast<double>(correct) / static_cast<double>(rows), 1e-9);
}

TEST(Trainer, DynamicSamplingTrainsOnMixedGroupsOnly) {
  // DAPO dynamic sampling: every step trains on groups whose verdicts differ (zero-std share 0),
  // refilled to trainer.prompts_per_step unless grpo.dynamic_sampling_max_rounds ran out. The run
  // without it logs one round of all P groups and does see constant groups on this task (so the
  // zero-std assertion below can fail when the key is ignored).
  for (const bool ds : {false, true}) {
    const std::string dir = fresh_dir(ds ? "dapo_on" : "dapo_off");
    RunConfig cfg = small_config(dir);
    cfg.algo.name = Algorithm::kGrpo;
    cfg.trainer.optim.steps = 4;
    cfg.data.heldout_size = 8;
    cfg.algo.grpo.dynamic_sampling = ds;
    cfg.algo.grpo.dynamic_sampling_max_rounds = 3;
    cfg.run.plots = false;
    TrainResult r = run_training(cfg, quiet());
    ASSERT_EQ(r.steps_done, 4);
    const auto rounds = metric_column(r.run_dir, "dynamic_sampling/rounds");
    const auto kept = metric_column(r.run_dir, "dynamic_sampling/kept_groups");
    const auto zero_std = metric_column(r.run_dir, "reward/frac_zero_std");
    ASSERT_EQ(rounds.size(), 4u);
    ASSERT_EQ(kept.size(), 4u);
    ASSERT_EQ(zero_std.size(), 4u);
    double zero_std_max = 0;
    for (size_t i = 0; i < 4; ++i) {
      zero_std_max = std::max(zero_std_max, zero_std[i]);
      if (!ds) {
        EXPECT_EQ(rounds[i], 1.0);
        EXPECT_EQ(kept[i], 8.0);
        continue;
      }
      EXPECT_GE(rounds[i], 1.0);
      EXPECT_LE(rounds[i], 3.0);
      EXPECT_LE(kept[i], 8.0);
      if (kept[i] < 8.0) {
        EXPECT_EQ(rounds[i], 3.0) << "step " << i + 1 << " stopped refilling early";
      }
      if (kept[i] > 0) {
        EXPECT_EQ(zero_std[i], 0.0) << "step " << i + 1;
      }
    }
    if (!ds) {
      EXPECT_GT(zero_std_max, 0.0) << "no constant group without dynamic sampling";
    }
  }
}

// popo/neg_logp_delta under NSR, whose loss at one update per batch is (1/N) sum over the
// negatives of l(a) (advantage -1 on every negative, seq-mean-token-mean): when every negative is
// in the sample, Adam's first step moves against that gradient, so the negatives' mean l(a)
// falls. popo.neg_logp_rollouts sets the sample size (5 here) and 0 turns the metric off; it is
// measured on steps 1, 1 + kl_every, ...
TEST(Trainer, NegLogpDeltaFollowsTheUpdateAndItsKeys) {
  auto run = [](const std::string& name, int64_t sample, int64_t kl_every, int64_t steps) {
    RunConfig cfg = small_config(fresh_dir(name));
    cfg.algo.name = Algorithm::kNsr;
    cfg.trainer.optim.steps = steps;
    cfg.data.heldout_size = 8;
    cfg.run.plots = false;
    cfg.algo.popo.kl_every = kl_every;
    cfg.algo.popo.neg_logp_rollouts = sample;
    return run_training(cfg, quiet()).run_dir;
  };
  const std::string all = run("neg_all", 1000, 1, 1);
  const auto delta = metric_column(all, "popo/neg_logp_delta");
  const auto count = metric_column(all, "popo/neg_logp_rollouts");
  ASSERT_EQ(delta.size(), 1u);
  EXPECT_LT(delta[0], 0.0);
  EXPECT_GT(count[0], 5.0);  // every negative of 64 rollouts (the base model is right ~40%)
  const std::string five = run("neg_five", 5, 2, 3);
  const auto rows = read_metrics(five + "/metrics.jsonl");
  std::vector<int64_t> measured;
  for (const auto& r : rows) {
    if (r.contains("popo/neg_logp_delta")) {
      measured.push_back(r.at("step").get<int64_t>());
      EXPECT_EQ(r.at("popo/neg_logp_rollouts").get<double>(), 5.0);
    }
  }
  EXPECT_EQ(measured, (std::vector<int64_t>{1, 3}));
  EXPECT_TRUE(metric_column(run("neg_off", 0, 1, 1), "popo/neg_logp_delta").empty());
}

// The final evaluation's pass@k curve comes from its k samples per problem: pass@1 is their mean
// accuracy, pass@k the share of problems with a correct sample, and pass@2 the unbiased
// estimator 1 - C(4-c, 2) / C(4, 2) over the per-problem counts c of the samples JSONL.
TEST(Trainer, FinalEvalLogsThePassAtKCurve) {
  RunConfig cfg = small_config(fresh_dir("pass_curve"));
  cfg.trainer.optim.steps = 1;
  cfg.trainer.eval_samples = 4;
  cfg.data.heldout_size = 12;
  cfg.run.plots = false;
  const TrainResult r = run_training(cfg, quiet());
  const auto rows = read_metrics(r.run_dir + "/metrics.jsonl");
  const nlohmann::json& last = rows.back();
  std::map<std::string, int> c;
  std::ifstream in(r.run_dir + "/eval/eval_step-000001-k4.jsonl");
  ASSERT_TRUE(in.good());
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    c[j.at("id").get<std::string>()] += j.at("correct").get<bool>() ? 1 : 0;
  }
  ASSERT_EQ(c.size(), 12u);
  double p1 = 0, p2 = 0, p4 = 0;
  for (const auto& [id, n] : c) {
    p1 += n / 4.0 / 12;
    p2 += (1.0 - (4 - n) * (3 - n) / 2.0 / 6.0) / 12;  // C(4-c, 2) / C(4, 2); 0 for c >= 3
    p4 += (n > 0 ? 1.0 : 0.0) / 12;
  }
  EXPECT_NEAR(last.at("heldout/pass_at_1").get<double>(), p1, 1e-12);
  EXPECT_NEAR(last.at("heldout/pass_at_2").get<double>(), p2, 1e-12);
  EXPECT_NEAR(last.at("heldout/pass_at_4").get<double>(), p4, 1e-12);
  EXPECT_FALSE(last.contains("heldout/pass_at_8"));
  ASSERT_EQ(r.pass_curve.size(), 3u);
  EXPECT_EQ(r.pass_curve[2].first, 4);
  EXPECT_NEAR(r.pass_curve[1].second, p2, 1e-12);
}

// A short comparison: 2 methods x 2 seeds after a 2-point learning-rate sweep. Checks what each
// run trained with (its config.resolved.yaml), that the seeds differ, that the sweep's
// validation problems are not held-out problems, that the same command again trains nothing,
// that an interrupted run resumes to the same numbers as an uninterrupted one, and that a
// folder of another config is refused.
TEST(Compare, SeedsSweepResumeOnATinyBudget) {
  const std::string dir = fresh_dir("compare");
  RunConfig base = small_config(dir);
  base.trainer.optim.steps = 3;
  base.trainer.eval_samples = 4;
  base.data.heldout_size = 10;
  base.trainer.save_every = 1;
  base.run.plots = false;
  CompareOptions o;
  o.methods = {"popo", "grpo"};
  o.seeds = 2;
  o.lr_sweep = {1e-4, 3e-3};
  o.sweep_steps = 2;
  o.sweep_size = 12;
  o.out = dir + "/cmp";
  o.show_progress = o.log_info = false;
  // The sweep alone first; the full command then reuses it.
  CompareOptions sweep_only = o;
  sweep_only.sweep_only = true;
  const CompareReport sw = run_compare(base, sweep_only);
  EXPECT_EQ(sw.runs_trained, 4);
  EXPECT_EQ(sw.sweep.size(), 4u);
  EXPECT_TRUE(sw.runs.empty());
  EXPECT_FALSE(fs::exists(o.out + "/popo"));
  // --report trains nothing: the sweep is there, the 4 runs are missing.
  CompareOptions report = o;
  report.report_only = true;
  const CompareReport r0 = run_compare(base, report);
  EXPECT_EQ(r0.runs_trained, 0);
  EXPECT_EQ(r0.runs_missing, 4);
  EXPECT_EQ(r0.sweep.size(), 4u);
  EXPECT_TRUE(r0.runs.empty());
  EXPECT_FALSE(fs::exists(o.out + "/popo"));
  const CompareReport rep = run_compare(base, o);
  EXPECT_FALSE(rep.interrupted);
  EXPECT_EQ(rep.runs_trained, 4);
  EXPECT_EQ(rep.runs_reused, 4);
  ASSERT_EQ(rep.sweep.size(), 4u);
  ASSERT_EQ(rep.runs.size(), 4u);
  for (const std::string m : {"popo", "grpo"}) {
    const double lr = pick_lr(rep.sweep, m);
    EXPECT_EQ(rep.lr.at(m), lr);
    for (int64_t seed : {0, 1}) {
      RunConfig got = default_run_config();
      load_yaml_file(o.out + "/" + m + "/seed-" + std::to_string(seed) + "/config.resolved.yaml", got);
      EXPECT_EQ(got.trainer.optim.lr, lr) << m;
      EXPECT_EQ(got.trainer.seed, seed) << m;
      EXPECT_EQ(got.algo.name, m == "popo" ? Algorithm::kPopo : Algorithm::kGrpo);
      EXPECT_EQ(got.trainer.optim.steps, 3);
    }
    RunConfig sw = default_run_config();
    load_yaml_file(o.out + "/sweep/" + m + "/lr-0.003/config.resolved.yaml", sw);
    EXPECT_EQ(sw.trainer.optim.steps, 2);
    EXPECT_EQ(sw.data.heldout, "");
  }
  // Seed-major order; different seeds, different rollouts.
  ASSERT_EQ(rep.runs[0].method, "popo");
  ASSERT_EQ(rep.runs[1].method, "grpo");
  ASSERT_EQ(rep.runs[2].method, "popo");
  EXPECT_EQ(rep.runs[2].seed, 1);
  EXPECT_NE(metric_column(rep.runs[0].run_dir, "reward/mean"), metric_column(rep.runs[2].run_dir, "reward/mean"));
  // The sweep's validation problems are training problems, none of them held out.
  auto ids = [](const std::string& jsonl) {
    std::set<std::string> out;
    std::ifstream in(jsonl);
    for (std::string line; std::getline(in, line);) out.insert(nlohmann::json::parse(line).at("id").get<std::string>());
    return out;
  };
  const auto val = ids(o.out + "/sweep/popo/lr-0.0001/eval/eval_step-000000.jsonl");
  const auto held = ids(rep.runs[0].run_dir + "/eval/eval_step-000000.jsonl");
  EXPECT_EQ(val.size(), 12u);
  EXPECT_EQ(held.size(), 10u);
  for (const auto& id : val) EXPECT_FALSE(held.count(id)) << id;
  // Every run's summary has the final pass@k curve and the neg_logp measurement of step 1.
  for (const RunSummary& r : rep.runs) {
    EXPECT_EQ(r.steps, 3);
    ASSERT_EQ(r.pass_curve.size(), 3u) << r.run_dir;
    EXPECT_EQ(r.neg_logp_steps, 1) << r.run_dir;
  }
  const std::string md = read_file(o.out + "/compare.md");
  EXPECT_NE(md.find("| popo | 2 | "), std::string::npos) << md;
  EXPECT_NE(md.find("## Learning-rate sweep"), std::string::npos) << md;
  EXPECT_NE(md.find("| pass@1 | pass@2 | pass@4 |"), std::string::npos) << md;
  for (const char* f : {"compare_curves.svg", "pass_at_k.svg", "neg_logp_delta.svg", "summary.json"})
    EXPECT_TRUE(fs::exists(o.out + "/" + f)) << f;
  EXPECT_NE(read_file(o.out + "/compare_curves.svg").find("class=\"band\""), std::string::npos);

  // The same command again: nothing trained, the same table.
  const CompareReport again = run_compare(base, o);
  EXPECT_EQ(again.runs_trained, 0);
  EXPECT_EQ(again.runs_reused, 8);
  EXPECT_EQ(read_file(o.out + "/compare.md"), md);

  // Interrupted after step 1 of its first run, then continued: the resumed run ends with the
  // metrics of the uninterrupted one (the trainer's bitwise resume), one row per step.
  CompareOptions cut = o;
  cut.lr_sweep.clear();
  cut.methods = {"grpo"};
  cut.seeds = 1;
  cut.out = dir + "/cut";
  cut.stop_after_step = 1;
  const CompareReport part = run_compare(base, cut);
  EXPECT_TRUE(part.interrupted);
  EXPECT_TRUE(part.runs.empty());
  cut.report_only = true;  // the stopped run is not finished: reported missing, not resumed
  const CompareReport seen = run_compare(base, cut);
  EXPECT_EQ(seen.runs_missing, 1);
  EXPECT_EQ(seen.runs_trained, 0);
  EXPECT_EQ(read_metrics(dir + "/cut/grpo/seed-0/metrics.jsonl").size(), 2u);  // steps 0, 1
  cut.report_only = false;
  cut.stop_after_step = -1;
  const CompareReport rest = run_compare(base, cut);
  ASSERT_FALSE(rest.interrupted);
  ASSERT_EQ(rest.runs.size(), 1u);
  CompareOptions whole = cut;
  whole.out = dir + "/whole";
  const CompareReport ref = run_compare(base, whole);
  EXPECT_EQ(metric_column(rest.runs[0].run_dir, "reward/mean"), metric_column(ref.runs[0].run_dir, "reward/mean"));
  EXPECT_EQ(metric_column(rest.runs[0].run_dir, "grad_norm"), metric_column(ref.runs[0].run_dir, "grad_norm"));
  EXPECT_EQ(rest.runs[0].final_heldout, ref.runs[0].final_heldout);
  EXPECT_EQ(read_metrics(rest.runs[0].run_dir + "/metrics.jsonl").size(), 4u);  // steps 0..3

  // Another config into the same folder is refused, naming the run folder.
  RunConfig other = base;
  other.trainer.optim.steps = 4;
  try {
    run_compare(other, cut);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("another config"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("grpo/seed-0"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("trainer.steps is 3 there, 4 here"), std::string::npos) << e.what();
  }

  // A finished run stays reused when only the dump's text changed (a newer binary's comments):
  // configs are compared by value.
  const std::string marker = ref.runs[0].run_dir + "/compare_done.yaml";
  std::string text = read_file(marker);
  const size_t hash = text.find(" # ");
  ASSERT_NE(hash, std::string::npos);
  text.insert(hash + 3, "reworded: ");
  write_file_atomic(marker, text);
  const CompareReport reworded = run_compare(base, whole);
  EXPECT_EQ(reworded.runs_trained, 0);
  EXPECT_GE(reworded.runs_reused, 1);
}

TEST(RunConfig, EveryKeyIsReadByTheCodeThatActsOnIt) {
  // The code that acts on a config value marks its key (note_config_read, core/config.h). Two
  // short runs between them take every path of the run config: POPO with the adaptive momentum
  // law, an eval and a checkpoint every step and pass@k at the end; GRPO with DAPO (dynamic
  // sampling, overlong shaping and filter), a reference KL and the behaviour log-probs.
  clear_config_reads();
  {
    RunConfig c = small_config(fresh_dir("keys_popo"));
    c.trainer.optim.steps = 2;
    c.data.heldout_size = 8;
    c.trainer.eval_every = 1;
    c.trainer.save_every = 1;
    c.trainer.eval_samples = 2;
    c.algo.popo.momentum_law = MomentumLaw::kAdaptive;
    c.algo.popo.kl_every = 1;
    ASSERT_EQ(run_training(c, quiet()).steps_done, 2);
  }
  {
    RunConfig c = small_config(fresh_dir("keys_grpo"));
    c.algo.name = Algorithm::kGrpo;
    c.trainer.optim.steps = 2;
    c.data.heldout_size = 8;
    c.algo.grpo.dynamic_sampling = true;
    c.algo.grpo.dynamic_sampling_max_rounds = 2;
    c.algo.grpo.overlong_buffer = 4;
    c.algo.grpo.overlong_filter = true;
    c.algo.grpo.kl_coef = 0.01;
    c.algo.grpo.old_logp = OldLogp::kBehaviour;
    ASSERT_EQ(run_training(c, quiet()).steps_done, 2);
  }
  const std::set<std::string> read = config_reads();
  // Keys that act only in a path these runs do not take, each with where it acts.
  const std::map<std::string, std::string> elsewhere = {
      // rollout_coefficients() with algo.name=w_reinforce (RolloutCoefficients tests).
      {"algo.w_reinforce_lambda", "src/rl/advantages.cpp, algo.name=w_reinforce"},
      // init_runtime() of the `popo train` / `popo compare` programs, not of run_training().
      {"trainer.threads", "tools/cmd_train.cpp, tools/cmd_compare.cpp"},
      // Dataset files (not the arithmetic task or a benchmark name): src/train/train_data.cpp
      // (ResearcherWorld.VerlDataWeightedRewardFunctionsAndTensorBoard).
      {"data.prompt_key", "src/train/train_data.cpp, a dataset file"},
      {"data.answer_key", "src/train/train_data.cpp, a dataset file"},
      {"data.id_key", "src/train/train_data.cpp, a dataset file"},
      // A command reward (the ResearcherWorld tests): src/reward/reward_set.cpp.
      {"reward.functions[0].command", "src/reward/reward_set.cpp, kind command"},
      {"reward.timeout_s", "src/reward/reward_command.cpp, kind command"},
      // lora.rank > 0 (tests/torch/lora_test.cpp): the adapters' scale, dropout and targets.
      {"lora.alpha", "src/model/lora.cpp, lora.rank > 0"},
      {"lora.dropout", "src/model/lora.cpp, lora.rank > 0"},
      {"lora.target_modules", "src/model/lora.cpp, lora.rank > 0"},
  };
  for (const auto& kv : flatten(default_run_config())) {
    const std::string& key = kv.first;
    if (elsewhere.count(key)) {
      EXPECT_FALSE(read.count(key)) << key << " is read here after all: drop it from the allow-list";
      continue;
    }
    EXPECT_TRUE(read.count(key)) << "config key " << key << " is never read by the code that acts on it";
  }
  // Every marked key is a real key (a typo in a mark would hide an unread key).
  std::set<std::string> keys;
  for (const auto& kv : flatten(default_run_config())) keys.insert(kv.first);
  for (const std::string& k : read) EXPECT_TRUE(keys.count(k)) << "marked key " << k << " does not exist";
  for (const auto& kv : elsewhere) EXPECT_TRUE(keys.count(kv.first)) << kv.first;
}

// Returns every tensor of the policy, siamese and optimizer of a checkpoint.
std::map<std::string, at::Tensor> checkpoint_tensors(const std::string& ckpt) {
  auto out = read_safetensors_dir(ckpt + "/policy");
  if (fs::exists(ckpt + "/siamese")) {
    for (auto& [k, v] : read_safetensors_dir(ckpt + "/siamese")) out["siamese." + k] = v;
  }
  return out;
}

struct ResumeCase {
  const char* name;
  std::string algo;
  int64_t rl_subset;  // 24 with 8 prompts a step: step 3 ends an epoch exactly
};

class TrainerResume : public testing::TestWithParam<ResumeCase> {};

TEST_P(TrainerResume, TwoNStepsEqualNPlusResumePlusN) {
  const ResumeCase& rc = GetParam();
  const std::string dir = fresh_dir(std::string("resume_") + rc.name);
  RunConfig cfg = small_config(dir);
  cfg.algo.name = parse_enum<Algorithm>(rc.algo, "algo.name");
  cfg.data.rl_subset = rc.rl_subset;
  cfg.trainer.optim.steps = 6;
  cfg.trainer.save_every = 2;
  cfg.algo.popo.kl_every = 2;
  torch::set_num_threads(1);
  cfg.run.name = "straight";
  TrainResult a = run_training(cfg, quiet());
  ASSERT_EQ(a.steps_done, 6);

  cfg.run.name = "resumed";
  TrainOptions first = quiet();
  first.stop_after_step = 3;
  TrainResult b1 = run_training(cfg, first);
  ASSERT_TRUE(b1.interrupted);
  ASSERT_EQ(b1.steps_done, 3);
  TrainOptions second = quiet();
  second.resume_dir = b1.run_dir;
  TrainResult b2 = run_training(load_run_config(b1.run_dir, {}), second);
  ASSERT_EQ(b2.steps_done, 6);

  const auto ta = checkpoint_tensors(latest_checkpoint(a.run_dir + "/checkpoints"));
  const auto tb = checkpoint_tensors(latest_checkpoint(b2.run_dir + "/checkpoints"));
  ASSERT_EQ(ta.size(), tb.size());
  for (const auto& [k, v] : ta) {
    ASSERT_TRUE(tb.count(k)) << k;
    EXPECT_TRUE(torch::equal(v, tb.at(k))) << k << " differs after resume: max |diff| "
                                           << (v - tb.at(k)).abs().max().item<double>();
  }
  for (const std::string key : {"reward/mean", "loss", "grad_norm"}) {
    EXPECT_EQ(metric_column(a.run_dir, key), metric_column(b2.run_dir, key)) << key;
  }
  EXPECT_EQ(metric_column(b2.run_dir, "reward/mean").size(), 6u) << "one row per step after resume";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TrainerResume,
    testing::Values(ResumeCase{"popo_epoch_boundary", "popo", 24},
                    ResumeCase{"popo_mid_epoch", "popo", 20},
                    ResumeCase{"grpo_epoch_boundary", "grpo", 24}),
    [](const testing::TestParamInfo<ResumeCase>& info) { return std::string(info.param.name); });

// ---- SIGINT -----------------------------------------------------------------------------------

TEST(TrainCommand, SigintCheckpointsAndExitsCleanly) {
  const std::string dir = fresh_dir("sigint");
  RunConfig base = small_config(dir);
  base.trainer.optim.steps = 100000;
  const std::string log = dir + "/out.log";
  pid_t pid = test::spawn_program(test::train_args(base), {}, log);
  ASSERT_GE(pid, 0);
  // Wait until at least one training step is logged, then interrupt.
  const std::string metrics = dir + "/run/metrics.jsonl";
  const auto t0 = std::chrono::steady_clock::now();
  bool stepped = false;
  while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120)) {
    if (fs::exists(metrics) && metric_column(dir + "/run", "reward/mean").size() >= 1) {
      stepped = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(stepped) << "no training step within 120 s; log: " << read_file(log);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by a signal; log: " << read_file(log);
  EXPECT_EQ(WEXITSTATUS(status), 0) << read_file(log);
  const std::string ckpt = latest_checkpoint(dir + "/run/checkpoints");
  ASSERT_FALSE(ckpt.empty()) << "no checkpoint after SIGINT";
  const auto state = nlohmann::json::parse(read_file(ckpt + "/state.json"));
  EXPECT_GE(state.at("step").get<int64_t>(), 1);
  EXPECT_LT(state.at("step").get<int64_t>(), 100000);
  EXPECT_NE(read_file(log).find("interrupted"), std::string::npos);
}

// ---- crash safety (issue #14): a kill or a full disk mid-write, a corrupt checkpoint -----------

using test::train_args;

// Runs args with extra environment variables, stdout and stderr into log; returns the wait status.
int run_program(const std::vector<std::string>& args,
                const std::vector<std::pair<std::string, std::string>>& env, const std::string& log) {
  int status = 0;
  ::waitpid(test::spawn_program(args, env, log), &status, 0);
  return status;
}

// Returns the total bytes of the files under dir.
uint64_t folder_bytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) n += e.file_size();
  return n;
}

// Returns the hidden temporary folders left under a checkpoints folder.
std::vector<std::string> temporaries(const std::string& checkpoints) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(checkpoints))
    if (e.path().filename().string()[0] == '.') out.push_back(e.path().filename().string());
  return out;
}

// 6 steps of POPO with a checkpoint every 2: the straight reference of the crash tests.
RunConfig crash_config(const std::string& dir) {
  RunConfig c = small_config(dir);
  c.trainer.optim.steps = 6;
  c.trainer.save_every = 2;
  c.trainer.keep_checkpoints = 3;
  c.algo.popo.kl_every = 2;
  return c;
}

// The straight (uninterrupted) run of crash_config(dir) and the bytes of its step-2 checkpoint.
struct StraightRun {
  RunConfig cfg;
  TrainResult result;
  uint64_t checkpoint_bytes = 0;
};
StraightRun straight_run(const std::string& dir, int64_t steps) {
  StraightRun s{crash_config(dir), {}, 0};
  s.cfg.trainer.optim.steps = steps;
  torch::set_num_threads(1);
  s.cfg.run.name = "straight";
  s.result = run_training(s.cfg, quiet());
  EXPECT_EQ(s.result.steps_done, steps);
  s.checkpoint_bytes = folder_bytes(s.result.run_dir + "/checkpoints/" + checkpoint_name(2));
  return s;
}

// Returns the error of checking checkpoint dir against its manifest ("" when it loads).
std::string load_error(const std::string& dir) {
  try {
    load_checkpoint(dir, {});
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void expect_same_run(const std::string& a, const std::string& b) {
  const auto ta = checkpoint_tensors(latest_checkpoint(a + "/checkpoints"));
  const auto tb = checkpoint_tensors(latest_checkpoint(b + "/checkpoints"));
  ASSERT_EQ(ta.size(), tb.size());
  for (const auto& [k, v] : ta) {
    ASSERT_TRUE(tb.count(k)) << k;
    EXPECT_TRUE(torch::equal(v, tb.at(k))) << k << " differs from the uninterrupted run";
  }
  for (const std::string key : {"reward/mean", "loss", "grad_norm"}) {
    EXPECT_EQ(metric_column(a, key), metric_column(b, key)) << key;
  }
}

TEST(CrashSafety, KillMidCheckpointKeepsThePreviousOneAndResumeMatches) {
  const std::string dir = fresh_dir("crash_kill");
  StraightRun s = straight_run(dir, 6);
  const TrainResult& a = s.result;
  RunConfig cfg = s.cfg;
  const uint64_t one = s.checkpoint_bytes;

  // The same run as a program whose writes into checkpoints/ stop, with a SIGKILL, halfway
  // through the second checkpoint (step 4).
  cfg.run.name = "killed";
  const std::string log = dir + "/killed.log";
  const int status = run_program(train_args(cfg),
                                 {{"POPO_FAULT", "kill"}, {"POPO_FAULT_PATH", "/checkpoints/"},
                                  {"POPO_FAULT_AFTER_BYTES", std::to_string(one + one / 2)}},
                                 log);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status << ": " << read_file(log);
  const std::string killed = dir + "/killed";
  EXPECT_EQ(latest_checkpoint(killed + "/checkpoints"), killed + "/checkpoints/" + checkpoint_name(2));
  ASSERT_EQ(temporaries(killed + "/checkpoints").size(), 1u) << "the kill did not land mid-write";
  EXPECT_EQ(temporaries(killed + "/checkpoints")[0].rfind(".tmp-" + checkpoint_name(4), 0), 0u);

  TrainOptions resume = quiet();
  resume.resume_dir = killed;
  TrainResult b = run_training(load_run_config(killed, {}), resume);
  ASSERT_EQ(b.steps_done, 6);
  expect_same_run(a.run_dir, killed);
  EXPECT_TRUE(temporaries(killed + "/checkpoints").empty()) << "the partial folder was not cleaned up";
}

TEST(CrashSafety, TruncatedOrCorruptCheckpointIsNamedAndResumeFallsBack) {
  const std::string dir = fresh_dir("crash_corrupt");
  StraightRun s = straight_run(dir, 4);
  const TrainResult& a = s.result;
  RunConfig cfg = s.cfg;
  cfg.run.name = "damaged";
  TrainResult d = run_training(cfg, quiet());
  ASSERT_EQ(d.steps_done, 4);
  const std::string ckpts = d.run_dir + "/checkpoints";
  const std::string newest = ckpts + "/" + checkpoint_name(4);
  const std::string weights = newest + "/policy/model.safetensors";

  // A flipped byte keeps the size: named as corrupt by the digest.
  std::string bytes = read_file(weights);
  bytes[bytes.size() / 2] ^= 0x5a;
  write_file_atomic(weights, bytes);
  std::string err = load_error(newest);
  ASSERT_FALSE(err.empty()) << "a corrupt checkpoint loaded";
  EXPECT_NE(err.find(weights), std::string::npos) << err;
  EXPECT_NE(err.find("corrupt"), std::string::npos) << err;
  // Cut short: named as truncated, with both sizes.
  write_file_atomic(weights, bytes.substr(0, bytes.size() - 100));
  err = load_error(newest);
  ASSERT_FALSE(err.empty()) << "a truncated checkpoint loaded";
  EXPECT_NE(err.find(weights), std::string::npos) << err;
  EXPECT_NE(err.find("truncated"), std::string::npos) << err;
  EXPECT_NE(err.find(std::to_string(bytes.size())), std::string::npos) << err;

  // --resume (the program) falls back to step 2, says so, and ends where the straight run ended.
  const std::string log = dir + "/resume.log";
  const int status = run_program({POPO_BINARY, "train", "--resume", d.run_dir}, {}, log);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_file(log);
  const std::string out = read_file(log);
  EXPECT_NE(out.find("falling back"), std::string::npos) << out;
  EXPECT_NE(out.find(weights), std::string::npos) << out;
  EXPECT_NE(out.find(checkpoint_name(2)), std::string::npos) << out;
  expect_same_run(a.run_dir, d.run_dir);

  // With every checkpoint damaged: one error naming each, and a non-zero exit.
  for (const auto& e : fs::directory_iterator(ckpts)) {
    const std::string w = e.path().string() + "/policy/model.safetensors";
    write_file_atomic(w, read_file(w).substr(0, 16));
  }
  const int bad = run_program({POPO_BINARY, "train", "--resume", d.run_dir}, {}, log);
  ASSERT_TRUE(WIFEXITED(bad)) << read_file(log);
  EXPECT_EQ(WEXITSTATUS(bad), 1) << read_file(log);
  EXPECT_NE(read_file(log).find("no usable checkpoint"), std::string::npos) << read_file(log);
}

TEST(CrashSafety, FullDiskIsOneClearErrorAndDamagesNothingWritten) {
  const std::string dir = fresh_dir("crash_enospc");
  StraightRun s = straight_run(dir, 6);
  const TrainResult& a = s.result;
  RunConfig cfg = s.cfg;
  const std::string straight_metrics = read_file(a.run_dir + "/metrics.jsonl");
  const uint64_t one = s.checkpoint_bytes;

  // The disk fills while a metrics row is written: the earlier rows are whole and unchanged.
  cfg.run.name = "metrics_full";
  std::string log = dir + "/metrics_full.log";
  const size_t budget = straight_metrics.find('\n', straight_metrics.size() / 2) + 40;  // mid-row
  int status = run_program(train_args(cfg), {{"POPO_FAULT", "enospc"}, {"POPO_FAULT_PATH", "metrics.jsonl"},
                                             {"POPO_FAULT_AFTER_BYTES", std::to_string(budget)}}, log);
  ASSERT_TRUE(WIFEXITED(status)) << read_file(log);
  EXPECT_EQ(WEXITSTATUS(status), 1) << read_file(log);
  std::string out = read_file(log);
  EXPECT_NE(out.find("metrics.jsonl"), std::string::npos) << out;
  EXPECT_NE(out.find(std::strerror(ENOSPC)), std::string::npos) << out;
  const std::string kept = read_file(cfg.run.dir + "/metrics_full/metrics.jsonl");
  ASSERT_FALSE(kept.empty());
  EXPECT_EQ(kept.back(), '\n') << "a torn row was left behind";
  EXPECT_LT(kept.size(), budget + 1);
  // The rows kept are the straight run's first rows, byte for byte, except their timings.
  const auto rows = read_metrics(cfg.run.dir + "/metrics_full/metrics.jsonl");
  const auto want = read_metrics(a.run_dir + "/metrics.jsonl");
  ASSERT_LT(rows.size(), want.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].at("step"), want[i].at("step")) << i;
    if (rows[i].contains("reward/mean")) {
      EXPECT_EQ(rows[i].at("reward/mean"), want[i].at("reward/mean")) << i;
    }
  }

  // The disk fills during the second checkpoint: the first stays loadable, no partial folder.
  cfg.run.name = "ckpt_full";
  log = dir + "/ckpt_full.log";
  status = run_program(train_args(cfg), {{"POPO_FAULT", "enospc"}, {"POPO_FAULT_PATH", "/checkpoints/"},
                                         {"POPO_FAULT_AFTER_BYTES", std::to_string(one + one / 2)}}, log);
  ASSERT_TRUE(WIFEXITED(status)) << read_file(log);
  EXPECT_EQ(WEXITSTATUS(status), 1) << read_file(log);
  out = read_file(log);
  EXPECT_NE(out.find("checkpoint of step 4 not written"), std::string::npos) << out;
  EXPECT_NE(out.find(std::strerror(ENOSPC)), std::string::npos) << out;
  EXPECT_NE(out.find("earlier checkpoints"), std::string::npos) << out;
  const std::string ckpts = cfg.run.dir + "/ckpt_full/checkpoints";
  EXPECT_EQ(latest_checkpoint(ckpts), ckpts + "/" + checkpoint_name(2));
  EXPECT_TRUE(temporaries(ckpts).empty());
  EXPECT_NO_THROW(load_checkpoint(ckpts + "/" + checkpoint_name(2), {}));
  size_t up_to_4 = 0;
  for (const auto& r : want) up_to_4 += r.at("step").get<int64_t>() <= 4;
  EXPECT_EQ(read_metrics(cfg.run.dir + "/ckpt_full/metrics.jsonl").size(), up_to_4)
      << "the metrics rows up to step 4 are intact";
}

}  // namespace
}  // namespace popo
