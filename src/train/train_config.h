// RunConfig: everything one `popo train` run reads, as nested field tables (core/config.h):
// model, data, warm_start, sampling, algo + popo + grpo (rl/algo_config.h), trainer, run.
// The same table drives configs/*.yaml, `key=value` overrides, --help and config.resolved.yaml.
// validate_run_config() checks the whole config before any work starts, so a typo or a missing
// file fails in the first second with the key, the value and what was expected.
// Torch-free on purpose (the sampling section is converted to SamplingConfig in trainer.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/arithmetic_task.h"
#include "model/lora_config.h"
#include "reward/reward_config.h"
#include "rl/algo_config.h"
#include "train/optim_config.h"

namespace popo {

// The built-in tiny Qwen2-architecture model of the demonstration (used when model.path is "").
struct TinyModelSpec {
  int64_t hidden_size = 128;        // C
  int64_t num_hidden_layers = 2;    // L
  int64_t num_attention_heads = 4;  // H
  int64_t num_key_value_heads = 2;  // Hkv (GQA)
  int64_t intermediate_size = 256;  // I of the SwiGLU MLP
  int64_t vocab_size = 320;         // byte-level BPE vocabulary trained on the task corpus (>= 256 + specials)
  int64_t max_position_embeddings = 256;

  template <class V>
  void visit_fields(V& v) {
    v("hidden_size", hidden_size, "hidden width C of the built-in tiny model");
    v("num_hidden_layers", num_hidden_layers, "decoder layers of the built-in tiny model");
    v("num_attention_heads", num_attention_heads, "attention heads of the built-in tiny model");
    v("num_key_value_heads", num_key_value_heads, "key/value heads (GQA) of the built-in tiny model");
    v("intermediate_size", intermediate_size, "SwiGLU width of the built-in tiny model");
    v("vocab_size", vocab_size, "BPE vocabulary trained on the task corpus (>= 256 + specials)");
    v("max_position_embeddings", max_position_embeddings, "context length of the built-in tiny model");
  }
};

// Section `model`.
struct ModelSection {
  std::string path;                // Hugging Face model folder; "" = the built-in tiny model
  std::string dtype = "auto";      // auto (fp32 on CPU, bf16 on CUDA) | float32 | bfloat16 | float16
  std::string device = "auto";     // auto (CUDA when available) | cpu | cuda | cuda:N
  TinyModelSpec tiny;              // used only when path is ""
  bool gradient_checkpointing = false;  // recompute each decoder layer in backward (policy only)

  template <class V>
  void visit_fields(V& v) {
    v("path", path, "Hugging Face model folder (config.json, *.safetensors, tokenizer.json); "
                    "\"\" = built-in tiny Qwen2 model (trained tokenizer + warm start)");
    v("dtype", dtype, "auto | float32 | bfloat16 | float16");
    v("device", device, "auto | cpu | cuda | cuda:N");
    v("tiny", tiny, "built-in tiny model (model.path = \"\")");
    v("gradient_checkpointing", gradient_checkpointing,
      "recompute the policy's decoder layers in backward: less activation memory (false)");
  }
};

// Section `data`.
struct DataSection {
  std::string dataset = "arithmetic";  // arithmetic | a JSONL / JSON path (fields: *_key below) | a benchmark name
  std::string template_name = "plain";  // chat template: chatml | plain | qwen-boxed | raw (key `template`)
  std::string heldout = "arithmetic";  // held-out set: arithmetic | JSONL path | benchmark | "" (split off the training set)
  int64_t heldout_size = 500;          // held-out problems evaluated (0 = all of a file)
  int64_t max_prompt_tokens = 512;     // prompts longer than this are dropped at load (with a count)
  int64_t train_size = 5000;           // arithmetic: problems in the training pool
  int64_t rl_subset = 0;               // RL prompts from the first N training problems only (0 = all); the warm start still sees the whole pool
  uint64_t seed = 1;                   // arithmetic: seed of the training pool
  uint64_t heldout_seed = 7;           // arithmetic: seed of the held-out problems (disjoint split)
  // arithmetic: task difficulty (data/arithmetic_task.h); the demo uses one or two operators
  // over one-digit operands: min_ops, max_ops, min_digits, max_digits, max_mul_digits,
  // operators, heldout_fraction.
  ArithmeticConfig arithmetic = {1, 2, 1, 1, 1, "+-*", 0.1};
  // Where a dataset file's rows keep their fields (dotted paths; data/math_dataset.h): verl's
  // parquet exported to JSONL is prompt_key=prompt, answer_key=reward_model.ground_truth.
  std::string prompt_key = "problem";
  std::string answer_key = "answer";
  std::string id_key = "id";

  template <class V>
  void visit_fields(V& v) {
    v("dataset", dataset, "training problems: arithmetic | JSONL path | benchmark name");
    v("template", template_name, "chat template: chatml | plain | qwen-boxed | raw");
    v("heldout", heldout, "held-out set: arithmetic | JSONL path | benchmark name | \"\" = split");
    v("heldout_size", heldout_size, "held-out problems to evaluate (0 = all)");
    v("max_prompt_tokens", max_prompt_tokens, "drop prompts longer than this many tokens");
    v("train_size", train_size, "arithmetic: problems in the training pool");
    v("rl_subset", rl_subset, "RL prompts from the first N training problems only (0 = all)");
    v("seed", seed, "arithmetic: seed of the training pool");
    v("heldout_seed", heldout_seed, "arithmetic: seed of the held-out problems");
    v("arithmetic", arithmetic, "built-in arithmetic task difficulty");
    v("prompt_key", prompt_key,
      "dataset files: the prompt's field, a dotted path (a string, or a list of {role, content} "
      "messages rendered by the template as a conversation)");
    v("answer_key", answer_key, "dataset files: the gold answer's field (dotted path)");
    v("id_key", id_key, "dataset files: the id's field (dotted path; missing = the line number)");
  }
};

// Section `warm_start`: the supervised warm start of the built-in tiny model on worked
// solutions of the training pool, cached under run.cache_dir keyed by a hash of its inputs.
struct WarmStartSection {
  int64_t steps = 300;        // optimizer steps of supervised fine-tuning; 0 = none (random base)
  int64_t batch_size = 32;    // sequences per step
  double lr = 3e-3;           // AdamW learning rate (constant after 10% warmup)
  int64_t seed = 1;           // seed of the random init and the batch order

  template <class V>
  void visit_fields(V& v) {
    v("steps", steps, "supervised warm-start steps of the built-in model (0 = none)");
    v("batch_size", batch_size, "warm-start sequences per step");
    v("lr", lr, "warm-start learning rate");
    v("seed", seed, "seed of the random init and warm-start batches");
  }
};

// Section `sampling`: rollout sampling (converted to SamplingConfig).
struct SamplingSection {
  double temperature = 1.0;        // 0 = greedy
  double top_p = 1.0;              // 1 disables
  int64_t top_k = 0;               // 0 disables
  int64_t max_new_tokens = 40;     // response budget R
  std::vector<std::string> stop_strings;  // extra stop strings (EOS tokens always stop)

  template <class V>
  void visit_fields(V& v) {
    v("temperature", temperature, "rollout temperature (0 = greedy)");
    v("top_p", top_p, "nucleus sampling (1 = off)");
    v("top_k", top_k, "top-k sampling (0 = off)");
    v("max_new_tokens", max_new_tokens, "response budget in tokens");
    v("stop_strings", stop_strings, "extra stop strings");
  }
};

// The optimizer options of the demonstration (the trainer section's defaults).
inline OptimConfig demo_optim_config() {
  OptimConfig o;
  o.steps = 250;
  o.lr = 3e-4;
  o.warmup_ratio = 0.05;
  o.schedule = LrSchedule::kConstant;
  return o;
}

// Section `trainer`. It embeds the optimizer's and the update's structs (optim_config.h): their
// fields are keys of this section (trainer.lr, trainer.micro_batch_size), and the learner reads
// the structs as loaded.
struct TrainerSection {
  OptimConfig optim = demo_optim_config();  // steps, lr, warmup_ratio, schedule, weight_decay, adam_*, grad_clip
  UpdateConfig update = {64, 2048};    // micro_batch_size (prompts*G must be a multiple), logprob_chunk_tokens
  int64_t prompts_per_step = 64;       // prompts sampled per step
  int64_t group_size = 8;              // G rollouts per prompt
  int64_t max_nonfinite_in_a_row = 3;  // skipped non-finite steps in a row before the run fails
  int64_t eval_every = 50;             // held-out greedy eval every N steps (0 = only at start and end)
  int64_t eval_samples = 1;            // samples per held-out problem for pass@k at the final eval (1 = greedy only)
  int64_t save_every = 100;            // checkpoint every N steps (0 = only at the end)
  int64_t keep_checkpoints = 2;        // checkpoints kept (older ones are deleted; >= 1)
  int64_t seed = 0;                    // run seed: data order, sampling, noise
  int64_t threads = 1;                 // libtorch intra-op threads (0 = leave libtorch's default)

  template <class V>
  void visit_fields(V& v) {
    optim.visit_fields(v);
    v("prompts_per_step", prompts_per_step, "prompts sampled per step");
    v("group_size", group_size, "G, rollouts per prompt");
    update.visit_fields(v);
    v("max_nonfinite_in_a_row", max_nonfinite_in_a_row, "non-finite steps skipped in a row before failing");
    v("eval_every", eval_every, "held-out eval every N steps (0 = start and end only)");
    v("eval_samples", eval_samples, "samples per held-out problem for pass@k at the final eval (1 = off)");
    v("save_every", save_every, "checkpoint every N steps (0 = end only)");
    v("keep_checkpoints", keep_checkpoints, "checkpoints kept");
    v("seed", seed, "run seed");
    v("threads", threads, "libtorch intra-op threads (0 = default)");
  }
};

// Section `run`.
struct RunSection {
  std::string dir = "runs";    // parent folder of run folders
  std::string name;            // run folder name under dir; "" = <algo>-<UTC time>
  std::string cache_dir;       // warm-start cache; "" = <dir>/.cache
  bool plots = true;           // write SVG plots at each eval and at the end

  template <class V>
  void visit_fields(V& v) {
    v("dir", dir, "parent folder of run folders");
    v("name", name, "run folder name (\"\" = <algo>-<time>)");
    v("cache_dir", cache_dir, "warm-start cache folder (\"\" = <run.dir>/.cache)");
    v("plots", plots, "write SVG plots at each eval and at the end");
  }
};

// Section `dist`: how data-parallel ranks share the optimizer state (train/zero.h).
struct DistSection {
  int64_t zero_stage = 0;  // 0 replicate | 1 shard fp32 masters + AdamW moments | 2 also the gradients

  template <class V>
  void visit_fields(V& v) {
    v("zero_stage", zero_stage,
      "optimizer-state sharding over the ranks: 0 = replicated, 1 = fp32 masters and AdamW moments "
      "sharded, 2 = also the gradients (reduce-scattered)");
  }
};

// Section `log`: where the metrics rows go besides run_dir/metrics.jsonl.
struct LogSection {
  bool tensorboard = true;  // also run_dir/tb/events.out.tfevents.* (core/tensorboard.h)

  template <class V>
  void visit_fields(V& v) {
    v("tensorboard", tensorboard,
      "also write every metrics.jsonl scalar to <run folder>/tb/events.out.tfevents.* "
      "(tensorboard --logdir runs)");
  }
};

// Returns the algorithm section of the demonstration: POPO with its defaults except
// popo.entropy_on=positives.
inline AlgoConfig demo_algo_config() {
  AlgoConfig a;
  a.popo.entropy_on = EntropyScope::kPositives;
  return a;
}

struct RunConfig {
  ModelSection model;
  LoraConfig lora;
  DataSection data;
  WarmStartSection warm_start;
  SamplingSection sampling;
  // algo.popo and algo.grpo appear as the top-level sections popo and grpo. The demo uses the
  // popo.entropy_on=positives extension: the update then forwards the positive rollouts only,
  // about half the update time on two CPU cores (POPO.md's default is entropy_on=all).
  AlgoConfig algo = demo_algo_config();
  TrainerSection trainer;
  RewardConfig reward;
  RunSection run;
  LogSection log;
  DistSection dist;

  template <class V>
  void visit_fields(V& v) {
    v("model", model, "policy model");
    v("lora", lora, "LoRA adapters on the policy (rank 0 = full fine-tuning; model/lora_config.h)");
    v("data", data, "training and held-out problems");
    v("warm_start", warm_start, "supervised warm start of the built-in model");
    v("sampling", sampling, "rollout sampling");
    v("algo", algo, "algorithm");
    v("popo", algo.popo, "POPO options (POPO.md)");
    v("grpo", algo.grpo, "policy-gradient options (GRPO, RLOO, PSR, NSR, W-REINFORCE)");
    v("trainer", trainer, "optimisation and schedule");
    v("reward", reward, "rollout rewards: the weighted reward functions (docs/VERIFIER.md)");
    v("run", run, "run folder");
    v("log", log, "metrics logging besides metrics.jsonl");
    v("dist", dist, "data-parallel optimizer-state sharding (ZeRO stages)");
  }
};

// Returns the config of `popo train` with no arguments (equal to configs/default.yaml).
RunConfig default_run_config();

// Checks every field and every path the run will read; throws popo::Error naming the key, the
// value got and what was expected (unknown algorithm, missing dataset file or model folder,
// model folder without tokenizer.json, G < 2 for GRPO/RLOO, prompts*G not divisible by the micro
// batch, non-positive counts, ...). Reads no file beyond existence checks.
void validate_run_config(const RunConfig& cfg);

// Returns the path of the training dataset file for data.dataset (a JSONL path or a benchmark
// name resolved under the data folder); "" for the built-in arithmetic task.
std::string resolve_dataset_path(const std::string& dataset);

}  // namespace popo
