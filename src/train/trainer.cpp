// The RL training loop: set-up (run folder, data, model, learner), steps, eval, checkpoints.
// Legend: P prompts per step, G rollouts per prompt, N = P*G rollouts, R response width.
#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <numeric>
#include <sstream>

#include "core/config.h"
#include "core/error.h"
#include "core/io.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/tensorboard.h"
#include "model/dtype.h"
#include "model/load.h"
#include "model/lora.h"
#include "rl/advantages.h"
#include "train/checkpoint.h"
#include "train/data_parallel.h"
#include "train/learner.h"
#include "train/zero.h"
#include "rl/momentum.h"
#include "rl/predictor.h"
#include "rl/rollout_filter.h"
#include "reward/reward_command.h"
#include "reward/reward_set.h"
#include "train/train_data.h"
#include "train/train_plots.h"
#include "eval/evaluator.h"
#include "sampling/generate.h"
#include "sampling/stop_tokens.h"
#include "tokenizer/chat_template.h"

namespace popo {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Returns the wall-clock time in seconds since the Unix epoch (TensorBoard's wall_time).
double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Returns "<algo>-YYYYmmdd-HHMMSS" in UTC.
std::string default_run_name(const RunConfig& cfg, std::time_t now) {
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%d-%H%M%S", &tm);
  return std::string(cfg.algo.name_text()) + "-" + buf;
}

// Data parallel: replaces this rank's rewards and response lengths (rows [offset, offset + n) of
// the step) by the whole step's (total rows), in global rollout order.
void gather_step_rows(Dist& dist, int64_t offset, int64_t total, std::vector<float>* rewards,
                      std::vector<int64_t>* lengths) {
  const std::vector<double> all_r =
      all_gather_rows(dist, {rewards->begin(), rewards->end()}, offset, total);
  const std::vector<double> all_l =
      all_gather_rows(dist, {lengths->begin(), lengths->end()}, offset, total);
  rewards->assign(all_r.begin(), all_r.end());
  lengths->assign(all_l.begin(), all_l.end());
}

// What the sample and reward phases of one step hand to the update: this rank's kept rollouts.
struct StepRollouts {
  RolloutBatch batch;            // the kept groups' rollouts, in step order
  std::vector<float> rewards;    // their shaped rewards (what the update trains on)
  std::vector<int64_t> lengths;  // their response lengths in tokens
  int64_t rounds = 0;            // sampling rounds (1 unless DAPO's dynamic sampling refills)
  int64_t sampled_rollouts = 0;  // rollouts sampled over all rounds and ranks
  double sampled_correct = 0;    // of which the reward was > 0
  // Per reward function (reward.functions order): the sum of its values over the kept rollouts;
  // and a command's extra metrics over the kept rollouts that reported them: (key, sum, count).
  std::vector<double> function_sums;
  std::vector<RewardScores::Extra> extras;
  int64_t row0 = 0, n_total = 0;  // this rank's rows [row0, row0 + n) of the step's n_total rows
  double t_rollout = 0, t_reward = 0;
};

class Trainer {
 public:
  Trainer(const RunConfig& cfg, const TrainOptions& opts) : cfg_(cfg), opts_(opts) {}

  TrainResult run();

 private:
  void setup();
  // The phases of one step (run()): sample and reward in rounds, update, log.
  StepRollouts sample_and_reward(int64_t step);
  LearnerStep update(int64_t step, StepRollouts& ro, double* seconds);
  // Adds memory/<kind>_bytes (this rank's state, measured from its tensors) and
  // memory/max_rank/<kind>_bytes to a metrics row; a collective under data parallelism.
  void add_memory_metrics(nlohmann::json* row);
  // Returns the evaluation of the policy on the held-out problems; data parallel: split over the
  // ranks (a collective), summarised on every rank, the per-sample file written by rank 0.
  EvalResult evaluate_split(const EvalOptions& options, const std::string& out_jsonl);
  void log_step(int64_t step, StepRollouts& ro, const LearnerStep& up, double t_update,
                nlohmann::json* row);
  void evaluate_heldout(int64_t step, bool final_eval, nlohmann::json* row);
  void save(bool final_save);
  void write_plots();
  void write_metrics(int64_t step, const nlohmann::json& row);
  CheckpointParts parts();

  RunConfig cfg_;
  TrainOptions opts_;
  TrainResult result_;
  std::string run_dir_, model_dir_;
  Tokenizer tok_;
  c10::Device device_{c10::kCPU};
  CausalLM policy_{nullptr}, siamese_{nullptr}, reference_{nullptr};
  Predictor predictor_{nullptr};
  std::unique_ptr<Learner> learner_;
  std::vector<PromptedProblem> train_;
  std::vector<MathProblem> heldout_;
  std::unique_ptr<DataCursor> cursor_;
  std::unique_ptr<MetricsWriter> metrics_;
  std::unique_ptr<TensorBoardWriter> tensorboard_;  // log.tensorboard: the same rows as events
  std::unique_ptr<RewardSet> rewards_;  // reward.functions; command rewards run for the whole run
  TrainerState state_;
  SamplingConfig rollout_sampling_;  // the sampling section, EOS ids and stop strings; seeds per round
  EvalOptions heldout_options_;      // greedy held-out evaluation through the eval layer
  int64_t last_eval_step_ = -1;
  // Data parallel (train/data_parallel.h): null for a single process.
  std::shared_ptr<Dist> dist_;
  bool main_ = true;  // rank 0: writes the run folder, metrics, plots, checkpoints, eval
};

void Trainer::setup() {
  const auto t0 = Clock::now();
  validate_run_config(cfg_);
  // 0. Process group (WORLD_SIZE > 1): rank 0 alone writes; every rank reads.
  device_ = parse_device(cfg_.model.device);
  note_config_read("model.device");
  dist_ = make_run_dist(&device_);
  if (dist_) {
    main_ = dist_->is_main();
    prompt_shard(cfg_.trainer.prompts_per_step, dist_->world_size(), dist_->rank());  // checks
    if (!main_) opts_.log_info = opts_.show_progress = false;
  }
  // 1. Run folder.
  if (!opts_.resume_dir.empty()) {
    run_dir_ = opts_.resume_dir;
  } else {
    const std::time_t now = dist_ ? static_cast<std::time_t>(broadcast_int(*dist_, std::time(nullptr)))
                                  : std::time(nullptr);
    const std::string name = cfg_.run.name.empty() ? default_run_name(cfg_, now) : cfg_.run.name;
    run_dir_ = path_join(cfg_.run.dir, name);
    note_config_read({"run.name", "run.dir"});
    POPO_CHECK(latest_checkpoint(path_join(run_dir_, "checkpoints")).empty(), "run folder ",
               run_dir_, " already holds checkpoints; continue it with `popo train --resume ",
               run_dir_, "` or pick another run.name");
  }
  if (main_) {
    fs::create_directories(run_dir_);
    write_file_atomic(path_join(run_dir_, "config.resolved.yaml"), dump_yaml(cfg_));
  }
  result_.run_dir = run_dir_;
  if (opts_.log_info) LOG_INFO("run folder ", run_dir_, "\n", config_table(cfg_));

  // 2. Problems; the built-in model is trained on the problem text, so it comes after.
  ProblemSets sets = load_problem_sets(cfg_);
  const c10::ScalarType dtype =
      cfg_.model.dtype == "auto" ? default_dtype_for(device_) : parse_dtype(cfg_.model.dtype);
  note_config_read({"model.dtype", "model.path"});
  if (cfg_.model.path.empty()) {
    note_config_read("run.cache_dir");
    const std::string cache =
        cfg_.run.cache_dir.empty() ? path_join(cfg_.run.dir, ".cache") : cfg_.run.cache_dir;
    // Rank 0 builds (or finds) the cached base model first; the others then find it.
    if (main_) model_dir_ = prepare_builtin_model(cfg_, sets.warm_start, sets.corpus, cache, opts_.log_info);
    if (dist_) dist_->barrier();
    if (!main_) model_dir_ = prepare_builtin_model(cfg_, sets.warm_start, sets.corpus, cache, false);
  } else {
    model_dir_ = cfg_.model.path;
  }
  tok_ = Tokenizer::from_file(path_join(model_dir_, "tokenizer.json"));
  train_ = std::move(sets.train);
  const int64_t dropped_train = tokenize_problems(train_, cfg_, tok_);
  const int64_t dropped_held = tokenize_problems(sets.heldout, cfg_, tok_);
  for (const PromptedProblem& p : sets.heldout) heldout_.push_back(p.math());
  if ((dropped_train || dropped_held) && opts_.log_info) {
    LOG_WARN("dropped ", dropped_train, " training and ", dropped_held, " held-out prompts longer "
             "than data.max_prompt_tokens = ", cfg_.data.max_prompt_tokens);
  }
  POPO_CHECK(!train_.empty(), "no training problem left after tokenisation");
  note_config_read("data.rl_subset");
  if (cfg_.data.rl_subset > 0 && cfg_.data.rl_subset < static_cast<int64_t>(train_.size())) {
    train_.resize(static_cast<size_t>(cfg_.data.rl_subset));
  }
  POPO_CHECK(!heldout_.empty(), "no held-out problem left after tokenisation");

  // 3. Networks: policy, siamese (xi_0 = theta_0), frozen reference, predictor.
  policy_ = load_model(model_dir_, dtype, device_);
  policy_->gradient_checkpointing = cfg_.model.gradient_checkpointing;
  note_config_read("model.gradient_checkpointing");
  // LoRA: the base is frozen and shared; the policy trains fp32 adapters, the siamese keeps an
  // EMA of them over the same base, and GRPO's reference is the base with no adapters (no copy).
  note_config_read("lora.rank");
  const bool lora = cfg_.lora.enabled();
  if (lora) {
    note_config_section_read("lora", cfg_.lora);
    attach_lora(policy_, cfg_.lora, derive_seed(static_cast<uint64_t>(cfg_.trainer.seed), "lora", 0));
  }
  const AlgoConfig& algo = cfg_.algo;
  if (algo.needs_siamese()) {
    if (lora) {
      siamese_ = share_base(policy_);
      siamese_->lora = clone_lora_adapters(*policy_->lora);
    } else {
      siamese_ = load_model(model_dir_, dtype, device_);
    }
    for (auto& p : own_tensors(siamese_)) p.set_requires_grad(false);
    siamese_->eval();
  }
  if (algo.needs_reference()) {
    if (lora) {
      reference_ = share_base(policy_);
    } else {
      reference_ = load_model(model_dir_, dtype, device_);
      for (auto& p : reference_->parameters()) p.set_requires_grad(false);
    }
    reference_->eval();
  }
  if (algo.needs_predictor()) {
    torch::manual_seed(derive_seed(static_cast<uint64_t>(cfg_.trainer.seed), "predictor", 0));
    predictor_ = Predictor(policy_->config().hidden_size, algo.popo.predictor_hidden,
                           algo.popo.predictor_layers);
    note_config_read({"popo.predictor_hidden", "popo.predictor_layers"});
    predictor_->to(device_);
  }
  // The learner reads the algorithm and the trainer's optimizer and update structs as loaded;
  // the learner and the loss mark the algo / popo / grpo / trainer keys where they act on them.
  LearnerConfig lc;
  lc.update = cfg_.trainer.update;
  lc.temperature = cfg_.sampling.temperature > 0 ? cfg_.sampling.temperature : 1.0;
  lc.response_budget = cfg_.sampling.max_new_tokens;
  lc.seed = derive_seed(static_cast<uint64_t>(cfg_.trainer.seed), "siamese_noise", 0);
  lc.zero_stage = static_cast<int>(cfg_.dist.zero_stage);
  note_config_read("dist.zero_stage");
  note_config_section_read("trainer", cfg_.trainer.optim);
  note_config_section_read("trainer", cfg_.trainer.update);
  note_config_read({"trainer.seed", "sampling.temperature", "sampling.max_new_tokens"});
  learner_ = std::make_unique<Learner>(policy_, predictor_, algo, cfg_.trainer.optim, lc, siamese_,
                                       reference_);
  if (dist_) attach_data_parallel(*learner_, dist_);
  if (lc.zero_stage >= 1) learner_->shard_optimizer(dist_);  // one process too (a 1-rank shard)
  state_.momentum_tau = learner_->momentum().state();

  // Rollout sampling: the sampling section, the model's stop ids (sampling/stop_tokens.h) and the
  // template's stop strings; each round sets its seeds. The held-out evaluation uses the same
  // budget, stops and verifier through the eval layer, greedy.
  const std::vector<int64_t> eos_ids = resolve_stop_tokens(model_dir_, policy_->config(), tok_);
  std::vector<std::string> stops = cfg_.sampling.stop_strings;
  for (const std::string& s : template_stop_strings(cfg_.data.template_name)) stops.push_back(s);
  rollout_sampling_.temperature = cfg_.sampling.temperature;
  rollout_sampling_.top_p = cfg_.sampling.top_p;
  rollout_sampling_.top_k = cfg_.sampling.top_k;
  rollout_sampling_.max_new_tokens = cfg_.sampling.max_new_tokens;
  rollout_sampling_.group_size = cfg_.trainer.group_size;
  rollout_sampling_.eos_token_ids = eos_ids;
  rollout_sampling_.stop_strings = stops;
  note_config_section_read("sampling", cfg_.sampling);
  heldout_options_.name = "heldout";
  heldout_options_.template_name = cfg_.data.template_name;
  heldout_options_.samples = 1;
  heldout_options_.temperature = 0;
  heldout_options_.top_p = 1;
  heldout_options_.max_new_tokens = cfg_.sampling.max_new_tokens;
  heldout_options_.eos_token_ids = eos_ids;
  heldout_options_.stop_strings = cfg_.sampling.stop_strings;  // the evaluator adds the template's
  heldout_options_.verify = cfg_.reward.verify_options();     // what the rollouts are rewarded by
  rewards_ = std::make_unique<RewardSet>(cfg_.reward);
  note_config_read("reward.extraction");
  for (size_t k = 0; k < cfg_.reward.functions.size(); ++k) {
    const std::string key = "reward.functions[" + std::to_string(k) + "].";
    for (const char* f : {"name", "kind", "weight"}) config_detail::note_read(key + f);
    if (cfg_.reward.functions[k].kind == RewardKind::kCommand) {
      config_detail::note_read(key + "command");
      note_config_read("reward.timeout_s");
    }
  }
  heldout_options_.seed = derive_seed(static_cast<uint64_t>(cfg_.trainer.seed), "heldout_samples", 0);
  heldout_options_.show_progress = false;

  // 4. Resume: weights, optimizer, cursor, metrics rows.
  if (main_) metrics_ = std::make_unique<MetricsWriter>(path_join(run_dir_, "metrics.jsonl"));
  // A new events file per invocation (a resumed run appends one, as TensorBoard expects).
  note_config_read("log.tensorboard");
  if (main_ && cfg_.log.tensorboard) tensorboard_ = std::make_unique<TensorBoardWriter>(path_join(run_dir_, "tb"));
  if (!opts_.resume_dir.empty()) {
    ResumePoint point;
    try {
      point = load_latest_valid_checkpoint(path_join(run_dir_, "checkpoints"), parts());
    } catch (const Error& e) {
      POPO_FAIL("--resume ", run_dir_, ": ", e.what());
    }
    const std::string& ckpt = point.dir;
    state_ = point.state;
    if (!point.skipped.empty()) {
      LOG_WARN("--resume ", run_dir_, ": continuing from ", ckpt, " (step ", state_.step, "), the newest usable "
               "checkpoint; ", point.skipped.size(), " newer one(s) skipped, the first because: ",
               point.skipped.front().second);
    }
    learner_->momentum().set_state(state_.momentum_tau);
    learner_->set_steps_done(state_.extra.value("learner_steps", state_.step));
    if (main_) metrics_->truncate_after(state_.step);
    // TensorBoard's counterpart of the truncation: its points past the checkpoint are dropped.
    if (tensorboard_) {
      tensorboard_->write_session_start(state_.step + 1, unix_seconds());
    }
    if (opts_.log_info) LOG_INFO("resumed from ", ckpt, " at step ", state_.step);
  }
  cursor_ = std::make_unique<DataCursor>(static_cast<int64_t>(train_.size()),
                                         derive_seed(static_cast<uint64_t>(cfg_.trainer.seed), "data", 0),
                                         state_.epoch, state_.cursor);
  if (opts_.log_info) {
    const auto& mc = policy_->config();
    LOG_INFO("policy ", model_dir_, ": ", mc.model_type, " C=", mc.hidden_size, " L=",
             mc.num_hidden_layers, " V=", mc.vocab_size, " params=", mc.num_parameters(), " on ",
             device_.str(), " ", dtype_name(dtype), "; ", train_.size(), " training / ",
             heldout_.size(), " held-out problems; set-up ", seconds_since(t0), " s",
             dist_ ? "; data parallel over " + std::to_string(dist_->world_size()) + " ranks (" +
                         dist_->backend() + ")" : std::string());
  }
}

CheckpointParts Trainer::parts() {
  CheckpointParts p;
  p.policy = &policy_;
  p.siamese = siamese_ ? &siamese_ : nullptr;
  p.predictor = predictor_ ? &predictor_ : nullptr;
  p.optimizer = &learner_->optimizer();
  p.masters = learner_->master_weights();
  p.mastered = learner_->mastered_parameters();
  p.siamese_masters = learner_->siamese_master_weights();
  p.siamese_mastered = learner_->siamese_mastered_parameters();
  p.zero = learner_->zero();
  p.tokenizer_json = path_join(model_dir_, "tokenizer.json");
  p.base_model_dir = fs::absolute(model_dir_).lexically_normal().string();
  return p;
}

EvalResult Trainer::evaluate_split(const EvalOptions& options, const std::string& out_jsonl) {
  if (!dist_) return evaluate(policy_, tok_, heldout_, options, out_jsonl);
  // Data parallel: rank r judges the contiguous shard r of the problems; the samples travel to
  // every rank as JSON and rank 0 summarises them and writes the file.
  const auto t0 = Clock::now();
  const int64_t n = static_cast<int64_t>(heldout_.size()), W = dist_->world_size(), r = dist_->rank();
  const int64_t begin = n * r / W, end = n * (r + 1) / W;
  EvalOptions o = options;
  o.seed = derive_seed(options.seed, "eval_rank", static_cast<uint64_t>(r));  // sampled evals
  nlohmann::json mine = nlohmann::json::array();
  if (end > begin) {
    const std::vector<MathProblem> shard(heldout_.begin() + begin, heldout_.begin() + end);
    for (EvalSample& s : evaluate_samples(policy_, tok_, shard, o)) {
      s.problem += static_cast<int>(begin);
      mine.push_back(eval_sample_to_json(s));
    }
  }
  std::vector<EvalSample> samples;
  for (const std::string& text : all_gather_text(*dist_, mine.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)))
    for (const nlohmann::json& j : nlohmann::json::parse(text)) samples.push_back(eval_sample_from_json(j));
  EvalResult res = summarize_evaluation(options, static_cast<int>(n), samples, seconds_since(t0));
  if (main_ && !out_jsonl.empty()) write_file_atomic(out_jsonl, samples_to_jsonl(samples));
  return res;
}

void Trainer::evaluate_heldout(int64_t step, bool final_eval, nlohmann::json* row) {
  // Greedy accuracy through the eval layer (the same evaluate() as `popo eval`); at the final
  // evaluation with trainer.eval_samples = k > 1 also k samples per problem at the rollout
  // temperature for pass@k and avg@k.
  char name[64];
  std::snprintf(name, sizeof(name), "eval_step-%06lld", static_cast<long long>(step));
  const std::string dir = path_join(run_dir_, "eval");
  const EvalResult greedy = evaluate_split(heldout_options_, path_join(dir, std::string(name) + ".jsonl"));
  std::vector<EvalResult> results = {greedy};
  note_config_read("trainer.eval_samples");
  const int k = final_eval ? static_cast<int>(cfg_.trainer.eval_samples) : 1;
  if (k > 1) {
    EvalOptions so = heldout_options_;
    so.name = "heldout-sampled";
    so.samples = k;
    so.temperature = cfg_.sampling.temperature > 0 ? cfg_.sampling.temperature : 1.0;
    so.top_p = cfg_.sampling.top_p;
    so.top_k = cfg_.sampling.top_k;
    results.push_back(evaluate_split(so, path_join(dir, std::string(name) + "-k" + std::to_string(k) + ".jsonl")));
  }
  if (!main_) return;  // rank 0 writes the summary and keeps the run's records
  write_file_atomic(path_join(dir, std::string(name) + ".md"),
                    "# Held-out evaluation at step " + std::to_string(step) + "\n\n" +
                        format_eval_table(results));
  const EvalResult& last = results.back();
  (*row)["heldout/accuracy"] = greedy.avg_at_k;
  if (k > 1) {
    (*row)["heldout/pass_at_k"] = last.pass_at_k;
    (*row)["heldout/avg_at_k"] = last.avg_at_k;
    (*row)["heldout/k"] = k;
    // The pass@k curve from the same k samples: the unbiased estimator at j = 1, 2, 4, ... and k.
    result_.pass_curve.clear();
    for (int j = 1;; j = std::min(2 * j, k)) {
      const double p = mean_pass_at_k(last.correct_per_problem, k, j);
      (*row)["heldout/pass_at_" + std::to_string(j)] = p;
      result_.pass_curve.emplace_back(j, p);
      if (j == k) break;
    }
  }
  (*row)["heldout/response_tokens"] = greedy.mean_response_tokens;
  (*row)["heldout/no_answer"] = greedy.no_answer_share;
  double seconds = 0;
  for (const EvalResult& r : results) seconds += r.seconds;
  (*row)["time/eval"] = seconds;
  if (state_.base_heldout < 0) state_.base_heldout = greedy.avg_at_k;
  state_.best_heldout = std::max(state_.best_heldout, greedy.avg_at_k);
  result_.final_heldout = greedy.avg_at_k;
  result_.final_pass_at_k = k > 1 ? last.pass_at_k : greedy.avg_at_k;
  result_.pass_k = k;
  result_.heldout_curve.emplace_back(step, greedy.avg_at_k);
  last_eval_step_ = step;
  if (opts_.log_info) {
    char pass[64] = "";
    if (k > 1) std::snprintf(pass, sizeof(pass), ", pass@%d %.1f%%", k, 100 * last.pass_at_k);
    LOG_INFO("step ", step, ": held-out greedy accuracy ", 100 * greedy.avg_at_k, "% (",
             greedy.problems, " problems", pass, ", ", seconds, " s)");
  }
}

void Trainer::save(bool final_save) {
  if (dist_) check_replicas_identical(*dist_, learner_->trainable_parameters(), "policy", state_.step);
  // The sharded optimizer state: rank 0 streams every rank's slices into the checkpoint; the
  // other ranks take part in that collective here.
  if (!main_) {
    if (learner_->zero()) learner_->zero()->write_state("");
    return;
  }
  state_.epoch = cursor_->epoch();
  state_.cursor = cursor_->index();
  state_.momentum_tau = learner_->momentum().state();
  state_.extra["learner_steps"] = learner_->steps_done();
  const std::string dir = save_checkpoint(path_join(run_dir_, "checkpoints"), parts(), state_,
                                          cfg_.trainer.keep_checkpoints);
  note_config_read("trainer.keep_checkpoints");
  if (opts_.log_info && final_save) LOG_INFO("checkpoint ", dir);
}

void Trainer::write_metrics(int64_t step, const nlohmann::json& row) {
  if (!main_) return;
  metrics_->write(step, row);
  if (tensorboard_) tensorboard_->write_scalars(step, unix_seconds(), row);
}

void Trainer::write_plots() {
  note_config_read("run.plots");
  if (!cfg_.run.plots || !main_) return;
  write_training_plots(path_join(run_dir_, "metrics.jsonl"), path_join(run_dir_, "plots"));
}

StepRollouts Trainer::sample_and_reward(int64_t step) {
  // Prompts, G rollouts per prompt, rewards; in rounds under DAPO's dynamic sampling
  // (grpo.dynamic_sampling): the groups whose verdicts are all equal are dropped and more prompts
  // are sampled until this rank has its share of trainer.prompts_per_step groups or
  // grpo.dynamic_sampling_max_rounds rounds are spent; the step trains on what was kept.
  // Data parallel: this rank's contiguous shard [p0, p0 + Pl) of each round's prompts.
  const GrpoConfig& gc = cfg_.algo.grpo;
  const int64_t P = cfg_.trainer.prompts_per_step, G = cfg_.trainer.group_size;
  const PromptShard shard = dist_ ? prompt_shard(P, dist_->world_size(), dist_->rank())
                                  : PromptShard{0, P};
  const int64_t p0 = shard.begin, Pl = shard.end - shard.begin;
  const uint64_t step_seed =
      derive_seed(static_cast<uint64_t>(cfg_.trainer.seed), "rollout", static_cast<uint64_t>(step));
  note_config_read({"trainer.prompts_per_step", "trainer.group_size", "grpo.overlong_buffer",
                    "grpo.overlong_penalty", "grpo.dynamic_sampling", "grpo.overlong_filter"});
  if (gc.dynamic_sampling) note_config_read("grpo.dynamic_sampling_max_rounds");
  StepRollouts ro;
  ro.function_sums.assign(cfg_.reward.functions.size(), 0.0);
  std::vector<RolloutBatch> kept_parts;
  int64_t kept_groups = 0;
  while (true) {
    // Sample.
    const std::vector<int64_t> idx = cursor_->next(P);
    std::vector<std::vector<int32_t>> prompts;
    for (int64_t i = p0; i < shard.end; ++i) prompts.push_back(train_[idx[i]].prompt_ids);
    auto t_phase = Clock::now();
    SamplingConfig sc = rollout_sampling_;
    // Round 0 keeps the seed of a run without dynamic sampling.
    sc.seed = ro.rounds == 0 ? step_seed : derive_seed(step_seed, "round", static_cast<uint64_t>(ro.rounds));
    // One random stream per rollout, named by its global index: the same draws for any rank layout.
    for (int64_t i = p0 * G; i < shard.end * G; ++i)
      sc.row_seeds.push_back(derive_seed(sc.seed, "row", static_cast<uint64_t>(i)));
    RolloutBatch round_batch;
    {
      torch::NoGradGuard no_grad;
      policy_->eval();
      round_batch = generate(policy_, prompts, sc, &tok_);
    }
    ro.t_rollout += seconds_since(t_phase);

    // Reward: the weighted sum of reward.functions, plus DAPO's overlong shaping (0 unless
    // grpo.overlong_buffer > 0). A rollout with a reward > 0 counts as correct (positive).
    t_phase = Clock::now();
    std::vector<int64_t> round_lengths;
    const std::vector<std::string> texts = decode_responses(round_batch, tok_, &round_lengths);
    std::vector<RewardInput> inputs(static_cast<size_t>(Pl * G));
    for (int64_t i = 0; i < Pl * G; ++i) {
      const PromptedProblem& prob = train_[idx[p0 + i / G]];
      RewardInput& in = inputs[static_cast<size_t>(i)];
      // Unique in the run: step, round and the rollout's global row.
      in.id = "s" + std::to_string(step) + "-r" + std::to_string(ro.rounds) + "-" +
              std::to_string(p0 * G + i);
      in.prompt = prob.prompt;
      in.response = texts[i];
      in.answer = prob.answer;
      in.metadata = prob.metadata;
    }
    const RewardScores scores = rewards_->score(inputs);
    std::vector<float> correct(Pl * G), shaped(Pl * G);
    for (int64_t i = 0; i < Pl * G; ++i) {
      correct[i] = scores.total[i];
      shaped[i] = correct[i] + static_cast<float>(overlong_penalty(
                      round_lengths[i], cfg_.sampling.max_new_tokens, gc.overlong_buffer,
                      gc.overlong_penalty));
      ro.sampled_correct += correct[i] > 0 ? 1 : 0;
    }
    ro.sampled_rollouts += Pl * G;
    ro.t_reward += seconds_since(t_phase);
    ++ro.rounds;

    // Keep: all groups, or (dynamic sampling) those with mixed verdicts, up to Pl.
    std::vector<int64_t> groups;
    if (gc.dynamic_sampling) {
      groups = mixed_groups(correct, G);
    } else {
      for (int64_t g = 0; g < Pl; ++g) groups.push_back(g);
    }
    if (static_cast<int64_t>(groups.size()) > Pl - kept_groups) groups.resize(static_cast<size_t>(Pl - kept_groups));
    kept_groups += static_cast<int64_t>(groups.size());
    for (int64_t g : groups) {
      for (int64_t k = 0; k < G; ++k) {
        const size_t i = static_cast<size_t>(g * G + k);
        ro.rewards.push_back(shaped[i]);
        ro.lengths.push_back(round_lengths[i]);
        for (size_t f = 0; f < scores.values.size(); ++f) ro.function_sums[f] += scores.values[f].second[i];
        for (const auto& [key, value] : scores.metrics[i]) {
          auto it = std::find_if(ro.extras.begin(), ro.extras.end(),
                                 [&](const RewardScores::Extra& e) { return e.key == key; });
          if (it == ro.extras.end()) it = ro.extras.insert(ro.extras.end(), {key, 0.0, 0});
          it->sum += value;
          ++it->count;
        }
      }
    }
    kept_parts.push_back(static_cast<int64_t>(groups.size()) == Pl ? std::move(round_batch)
                                                                    : select_groups(round_batch, groups));
    // Another round while any rank lacks groups (every rank runs the same number of rounds).
    double missing = static_cast<double>(Pl - kept_groups);
    if (dist_) missing = dist_->all_reduce_sum(missing);
    if (!gc.dynamic_sampling || missing <= 0 || ro.rounds >= gc.dynamic_sampling_max_rounds) break;
  }
  ro.batch = kept_parts.size() == 1 ? std::move(kept_parts[0]) : concat_rollouts(kept_parts);
  // This rank's rows [row0, row0 + n_local) of the step's n_total kept rows.
  const int64_t n_local = static_cast<int64_t>(ro.rewards.size());
  ro.n_total = n_local;
  if (dist_) {
    const std::vector<double> counts = all_gather_scalar(*dist_, static_cast<double>(n_local));
    ro.n_total = 0;
    for (int r = 0; r < dist_->world_size(); ++r) {
      if (r < dist_->rank()) ro.row0 += static_cast<int64_t>(counts[r]);
      ro.n_total += static_cast<int64_t>(counts[r]);
    }
    ro.sampled_rollouts = static_cast<int64_t>(dist_->all_reduce_sum(static_cast<double>(ro.sampled_rollouts)));
    ro.sampled_correct = dist_->all_reduce_sum(ro.sampled_correct);
  }
  return ro;
}

LearnerStep Trainer::update(int64_t step, StepRollouts& ro, double* seconds) {
  // Coefficients, micro-batched forward/backward, optimizer step, and the momentum update of
  // the siamese network (POPO) inside the learner.
  const auto t0 = Clock::now();
  torch::manual_seed(derive_seed(static_cast<uint64_t>(cfg_.trainer.seed), "update", static_cast<uint64_t>(step)));
  policy_->train();
  const torch::Tensor rewards = torch::tensor(ro.rewards, torch::kFloat);  // (n_local)
  learner_->set_row_shard(ro.row0, ro.n_total);
  const torch::Tensor coef = learner_->coefficients(ro.batch, rewards);  // (n_local)
  // popo/neg_logp_delta (every popo.kl_every steps; popo.neg_logp_rollouts > 0): the mean change
  // that this update makes to l(a), the length-normalised log-prob, of a seeded sample of the
  // step's negative rollouts (reward <= 0): a no-grad forward before and one after. Its time is
  // kept out of time/update (time/neg_logp), so every method's update time stays comparable.
  const PopoConfig& pc = cfg_.algo.popo;
  note_config_read("popo.neg_logp_rollouts");
  const bool measure_neg = pc.neg_logp_rollouts > 0 && pc.kl_every > 0 && (step - 1) % pc.kl_every == 0;
  torch::Tensor neg_rows, neg_before;
  double t_neg = 0;
  if (measure_neg) {
    const auto t_m = Clock::now();
    std::vector<int64_t> neg;
    for (size_t i = 0; i < ro.rewards.size(); ++i) {
      if (ro.rewards[i] <= 0) neg.push_back(static_cast<int64_t>(i));
    }
    // A partial Fisher-Yates shuffle by the step's own stream picks the sample.
    uint64_t st = derive_seed(static_cast<uint64_t>(cfg_.trainer.seed), "neg_logp", static_cast<uint64_t>(step));
    const size_t k = std::min(neg.size(), static_cast<size_t>(pc.neg_logp_rollouts));
    for (size_t i = 0; i < k; ++i) std::swap(neg[i], neg[i + splitmix64(st) % (neg.size() - i)]);
    neg.resize(k);
    neg_rows = torch::tensor(neg, torch::kLong);  // (k)
    neg_before = learner_->sequence_logps(ro.batch, neg_rows);
    t_neg += seconds_since(t_m);
  }
  LearnerStep up = learner_->step(ro.batch, rewards, coef);
  if (measure_neg) {
    const auto t_m = Clock::now();
    std::vector<double> sums = {0, static_cast<double>(neg_rows.size(0))};
    if (!up.skipped && neg_rows.size(0) > 0)
      sums[0] = (learner_->sequence_logps(ro.batch, neg_rows) - neg_before).sum().item<double>();
    if (dist_) {
      sums[0] = dist_->all_reduce_sum(sums[0]);
      sums[1] = dist_->all_reduce_sum(sums[1]);
    }
    if (sums[1] > 0 && !up.skipped) up.metrics["popo/neg_logp_delta"] = sums[0] / sums[1];
    up.metrics["popo/neg_logp_rollouts"] = sums[1];
    t_neg += seconds_since(t_m);
    up.metrics["time/neg_logp"] = t_neg;
  }
  policy_->eval();
  *seconds = seconds_since(t0) - t_neg;
  note_config_read("trainer.max_nonfinite_in_a_row");
  if (!up.skipped) {
    state_.nonfinite_in_a_row = 0;
  } else {
    ++state_.nonfinite_in_a_row;
    POPO_CHECK(state_.nonfinite_in_a_row < cfg_.trainer.max_nonfinite_in_a_row, "training diverged: ",
               state_.nonfinite_in_a_row, " non-finite steps in a row (trainer."
               "max_nonfinite_in_a_row = ", cfg_.trainer.max_nonfinite_in_a_row, "); hint: lower trainer.lr");
  }
  return up;
}

void Trainer::log_step(int64_t step, StepRollouts& ro, const LearnerStep& up, double t_update,
                       nlohmann::json* out) {
  // The metrics row, over the global batch (data parallel: rewards and lengths gathered).
  nlohmann::json& row = *out;
  const int64_t G = cfg_.trainer.group_size;
  row["dynamic_sampling/rounds"] = ro.rounds;
  row["dynamic_sampling/kept_groups"] = ro.n_total / G;
  row["dynamic_sampling/sampled_accuracy"] =
      ro.sampled_correct / std::max<double>(1.0, static_cast<double>(ro.sampled_rollouts));
  int64_t local_positives = 0;
  for (float r : ro.rewards) local_positives += r > 0 ? 1 : 0;
  // reward/<name>: each function's mean over the kept rollouts (all ranks); reward/<name>/<key>:
  // a command's extra metrics, this rank's (rank 0's in the row: the keys may differ by rank).
  for (size_t f = 0; f < ro.function_sums.size(); ++f) {
    const double sum = dist_ ? dist_->all_reduce_sum(ro.function_sums[f]) : ro.function_sums[f];
    row["reward/" + cfg_.reward.functions[f].name] = sum / std::max<double>(1.0, double(ro.n_total));
  }
  for (const RewardScores::Extra& e : ro.extras) row["reward/" + e.key] = e.sum / double(std::max<int64_t>(e.count, 1));
  if (dist_) {
    gather_step_rows(*dist_, ro.row0, ro.n_total, &ro.rewards, &ro.lengths);
    const std::vector<double> pos = all_gather_scalar(*dist_, static_cast<double>(local_positives));
    row["dist/min_rank_positives"] = *std::min_element(pos.begin(), pos.end());
    row["dist/world_size"] = dist_->world_size();
    if (step == 1 || step % 10 == 0) {
      check_replicas_identical(*dist_, learner_->trainable_parameters(), "policy", step);
      if (siamese_) check_replicas_identical(*dist_, own_tensors(siamese_), "siamese", step);
    }
  }
  const torch::Tensor rewards = torch::tensor(ro.rewards, torch::kFloat);  // (n_total)
  const GroupStats gs = group_stats(rewards, G);
  int64_t any_pass = 0;
  const int64_t n_groups = ro.n_total / G;  // groups trained on (P unless dynamic sampling)
  for (int64_t p = 0; p < n_groups; ++p) {
    bool ok = false;
    for (int64_t g = 0; g < G; ++g) ok = ok || ro.rewards[p * G + g] > 0;
    any_pass += ok;
  }
  double len_sum = 0;
  int64_t len_max = 0, clipped = 0;
  for (int64_t l : ro.lengths) {
    len_sum += static_cast<double>(l);
    len_max = std::max(len_max, l);
    clipped += l >= cfg_.sampling.max_new_tokens ? 1 : 0;
  }
  const double n_roll = static_cast<double>(std::max<int64_t>(ro.n_total, 1));
  for (const auto& [k, v] : up.metrics) row[k] = v;
  row["reward/mean"] = gs.reward_mean;
  row["reward/pass_rate"] = static_cast<double>(any_pass) / static_cast<double>(std::max<int64_t>(n_groups, 1));
  row["popo/positive_ratio"] = gs.positive_ratio;
  row["reward/frac_zero_std"] = gs.frac_zero_std;
  row["reward/frac_no_positive"] = gs.frac_no_positive;
  if (dist_) row["frac_zero_std_groups"] = gs.frac_zero_std;  // the learner's is this rank's
  row["update/skipped"] = up.skipped ? 1 : 0;
  row["response/length_mean"] = len_sum / n_roll;
  row["response/length_max"] = len_max;
  row["response/clipped_ratio"] = static_cast<double>(clipped) / n_roll;
  add_memory_metrics(&row);
  row["time/rollout"] = ro.t_rollout;
  row["time/reward"] = ro.t_reward;
  row["time/update"] = t_update;
  row["throughput/rollout_tokens_per_s"] = len_sum / std::max(ro.t_rollout, 1e-9);
  row["epoch"] = cursor_->epoch();
  if (result_.reward_curve.empty()) result_.first_reward = gs.reward_mean;  // this invocation's first
  result_.last_reward = gs.reward_mean;
  result_.reward_curve.emplace_back(step, gs.reward_mean);
}

void Trainer::add_memory_metrics(nlohmann::json* row) {
  // memory/<kind>_bytes: the bytes of each kind of state this rank holds, measured from its
  // tensors (rank 0's in the row), and memory/max_rank/<kind>_bytes, the largest over the ranks.
  const Learner::StateBytes b = learner_->state_bytes();
  const std::vector<std::pair<const char*, double>> kinds = {{"param", b.param}, {"grad", b.grad},
      {"optimizer_state", b.optimizer_state}, {"master", b.master}, {"siamese", b.siamese}};
  // One collective for all kinds: rank r's values at [r K, (r + 1) K).
  std::vector<double> mine;
  for (const auto& kv : kinds) mine.push_back(kv.second);
  const int64_t K = static_cast<int64_t>(kinds.size());
  const std::vector<double> all =
      dist_ ? all_gather_rows(*dist_, mine, dist_->rank() * K, dist_->world_size() * K) : mine;
  for (int64_t k = 0; k < K; ++k) {
    double most = 0;
    for (size_t i = size_t(k); i < all.size(); i += size_t(K)) most = std::max(most, all[i]);
    (*row)[std::string("memory/") + kinds[size_t(k)].first + "_bytes"] = mine[size_t(k)];
    (*row)[std::string("memory/max_rank/") + kinds[size_t(k)].first + "_bytes"] = most;
  }
}

TrainResult Trainer::run() {
  const auto t_start = Clock::now();
  setup();
  const TrainerSection& t = cfg_.trainer;
  note_config_read({"trainer.eval_every", "trainer.save_every"});

  // Base evaluation (step 0) on a fresh run.
  if (state_.step == 0) {
    nlohmann::json row = nlohmann::json::object();
    evaluate_heldout(0, /*final_eval=*/false, &row);
    write_metrics(0, row);
    write_plots();
  }
  result_.base_heldout = state_.base_heldout;

  Progress progress("train", t.optim.steps, stderr_is_tty());
  double update_total = 0, rollout_total = 0;
  int64_t steps_here = 0;
  while (state_.step < t.optim.steps) {
    bool stop_requested = (opts_.stop && opts_.stop->load()) ||
                          (opts_.stop_after_step >= 0 && state_.step >= opts_.stop_after_step);
    if (dist_) stop_requested = dist_->all_reduce_sum(stop_requested ? 1.0 : 0.0) > 0;  // all or none
    if (stop_requested) {
      result_.interrupted = true;
      break;
    }
    const int64_t step = state_.step + 1;
    const auto t_step = Clock::now();
    nlohmann::json row = nlohmann::json::object();

    // 1. Sample and reward (rounds under dynamic sampling); DAPO's overlong filter. A command
    // reward's fault stops the run after a checkpoint of the last finished step.
    StepRollouts ro;
    try {
      ro = sample_and_reward(step);
    } catch (const RewardCommandError& e) {
      if (state_.step > 0 && main_) save(/*final_save=*/true);
      POPO_FAIL(e.what(), "; the run stopped in step ", step,
                state_.step > 0 ? " after a checkpoint of step " + std::to_string(state_.step) +
                                      "; fix the reward and continue with `popo train --resume " +
                                      run_dir_ + "`"
                                : std::string(" before any step finished"));
    }
    if (cfg_.algo.grpo.overlong_filter) row["grpo/overlong_filtered"] = static_cast<double>(mask_truncated(&ro.batch));
    // 2. Update.
    double t_update = 0;
    const LearnerStep up = update(step, ro, &t_update);
    // 3. Log.
    log_step(step, ro, up, t_update, &row);
    state_.step = step;
    update_total += t_update;
    rollout_total += ro.t_rollout;
    ++steps_here;

    // 4. Held-out eval, metrics row, checkpoint.
    const bool last = step == t.optim.steps;
    if ((t.eval_every > 0 && step % t.eval_every == 0) || last) evaluate_heldout(step, last, &row);
    row["time/step"] = seconds_since(t_step);
    const double tokens = std::accumulate(ro.lengths.begin(), ro.lengths.end(), 0.0);  // the step's (gathered)
    row["throughput/tokens_per_s"] = tokens / std::max(seconds_since(t_step), 1e-9);
    write_metrics(step, row);
    state_.metrics_rows += 1;
    state_.elapsed_seconds += seconds_since(t_step);
    if (row.contains("heldout/accuracy")) write_plots();
    if ((t.save_every > 0 && step % t.save_every == 0) || last) save(last);

    std::ostringstream fields;
    fields.precision(3);
    fields << "reward " << result_.last_reward;
    if (last_eval_step_ >= 0) fields << " | heldout " << result_.final_heldout;
    if (up.metrics.count("entropy")) fields << " | entropy " << up.metrics.at("entropy");
    if (opts_.show_progress) progress.update(step, fields.str());
  }
  if (result_.interrupted) {
    // Checkpoint at the step boundary so that --resume continues exactly here.
    if (state_.step > 0) save(/*final_save=*/true);
    if (opts_.log_info) LOG_INFO("interrupted after step ", state_.step, "; continue with `popo train --resume ", run_dir_, "`");
  }
  if (opts_.show_progress) progress.finish();
  write_plots();
  result_.steps_done = state_.step;
  result_.best_heldout = state_.best_heldout;
  result_.base_heldout = state_.base_heldout;
  result_.wall_seconds = seconds_since(t_start);
  result_.train_seconds = update_total + rollout_total;
  result_.mean_update_seconds = steps_here ? update_total / static_cast<double>(steps_here) : 0;
  result_.mean_rollout_seconds = steps_here ? rollout_total / static_cast<double>(steps_here) : 0;
  return result_;
}

}  // namespace

TrainResult run_training(const RunConfig& cfg, const TrainOptions& opts) {
  Trainer trainer(cfg, opts);
  return trainer.run();
}

RunConfig load_run_config(const std::string& run_dir, const std::vector<std::string>& overrides) {
  const std::string path = path_join(run_dir, "config.resolved.yaml");
  POPO_CHECK(path_exists(path), "--resume ", run_dir, ": no config.resolved.yaml (not a run folder?)");
  RunConfig cfg;
  load_yaml_file(path, cfg);
  apply_overrides(cfg, overrides);
  return cfg;
}

}  // namespace popo
