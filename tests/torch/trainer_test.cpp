// Trainer tests: config validation errors, the data cursor, checkpoint write/restore, a shortened
// demonstration whose reward must rise, bitwise resume (2N steps == N + resume + N, also across
// a data-epoch boundary) and the SIGINT path of the real `popo train` program.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
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
#include "test_util.h"
#include "core/build_paths.h"

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

TrainOptions quiet() {
  TrainOptions o;
  o.show_progress = false;
  o.log_info = false;
  return o;
}

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

TEST(Compare, TableRowsAndUpdateTimeAgainstGrpo) {
  auto entry = [](const std::string& method, double update_s, int64_t k) {
    CompareEntry e{method, default_run_config(), TrainResult{}};
    apply_overrides(e.config, compare_method_overrides(method));
    e.result.base_heldout = 0.372;
    e.result.final_heldout = 0.554;
    e.result.best_heldout = 0.56;
    e.result.final_pass_at_k = 0.75;
    e.result.pass_k = k;
    e.result.steps_done = 250;
    e.result.wall_seconds = 480.4;
    e.result.mean_update_seconds = update_s;
    e.result.mean_rollout_seconds = 0.9;
    return e;
  };
  // POPO's update 0.8 s against GRPO's 2.0 s: 0.8 / 2.0 - 1 = -60%.
  const std::string md = compare_table_markdown(
      {entry("popo", 0.8, 8), entry("grpo", 2.0, 8), entry("raft", 0.5, 1)});
  EXPECT_NE(md.find("| pass@8 end |"), std::string::npos) << md;
  EXPECT_NE(md.find("| popo | popo (entropy_on=positives) | 37.2% | 55.4% | 56.0% | 75.0% | 250 | "
                    "480 | 0.800 | 0.900 | -60% |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| grpo | grpo | 37.2% | 55.4% | 56.0% | 75.0% | 250 | 480 | 2.000 | 0.900 | +0% |"),
            std::string::npos)
      << md;
  // A run evaluated greedily only has no pass@k; RAFT's update 0.5 / 2.0 - 1 = -75%.
  EXPECT_NE(md.find("| raft | raft | 37.2% | 55.4% | 56.0% | - | 250 | 480 | 0.500 | 0.900 | -75% |"),
            std::string::npos)
      << md;
  // Without GRPO there is no relative column.
  EXPECT_EQ(compare_table_markdown({entry("popo", 0.8, 8)}).find("vs GRPO"), std::string::npos);
  EXPECT_THROW(compare_method_overrides("ppo"), Error);
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
  const RunConfig base = small_config(dir);
  std::vector<std::string> args = {POPO_BINARY, "train"};
  for (const auto& [k, v] : flatten(base)) {
    if (k == "trainer.steps") continue;
    if (v.find('[') == 0) continue;  // lists keep their defaults
    args.push_back(k + "=" + v);
  }
  args.push_back("trainer.steps=100000");
  const std::string log = dir + "/out.log";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::freopen(log.c_str(), "w", stdout);
    std::freopen(log.c_str(), "a", stderr);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::_Exit(127);
  }
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

}  // namespace
}  // namespace popo
