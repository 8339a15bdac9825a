// RunConfig defaults and validation (every check before any work starts).
#include "train/train_config.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "core/error.h"
#include "core/io.h"
#include "data/math_dataset.h"

namespace popo {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string>& known_templates() {
  static const std::vector<std::string> names = {"chatml", "plain", "qwen-boxed", "raw"};
  return names;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() > tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

bool looks_like_path(const std::string& s) {
  return s.find('/') != std::string::npos || ends_with(s, ".jsonl") || ends_with(s, ".json");
}

void check_positive(int64_t value, const char* key) {
  POPO_CHECK(value > 0, "config: ", key, " must be > 0, got ", value);
}

}  // namespace

RunConfig default_run_config() { return RunConfig{}; }

std::string resolve_dataset_path(const std::string& dataset) {
  if (dataset == "arithmetic") return "";
  if (looks_like_path(dataset)) return dataset;
  const auto names = benchmark_names();
  if (std::find(names.begin(), names.end(), dataset) != names.end()) {
    return benchmark_path(dataset, default_data_dir());
  }
  // A file of the data folder named without its extension (math_train, gsm8k_train).
  return (fs::path(default_data_dir()) / (dataset + ".jsonl")).string();
}

void validate_run_config(const RunConfig& cfg) {
  const TrainerSection& t = cfg.trainer;
  (void)cfg.reward.verify_options();  // reward.extraction: math_verify | boxed
  validate(cfg.reward);               // reward.functions, reward.timeout_s
  for (const auto& [key, value] : {std::pair<const char*, const std::string*>{"data.prompt_key", &cfg.data.prompt_key},
                                   {"data.answer_key", &cfg.data.answer_key},
                                   {"data.id_key", &cfg.data.id_key}}) {
    POPO_CHECK(!value->empty() && value->front() != '.' && value->back() != '.' &&
                   value->find("..") == std::string::npos,
               "config: ", key, " must be a field name or a dotted path such as "
               "reward_model.ground_truth, got '", *value, "'");
  }
  // Algorithm first: its errors are the most common typo.
  POPO_CHECK(!(cfg.algo.traits().compares_group && t.group_size < 2), "config: trainer.group_size = ",
             t.group_size, " but algo.name=", cfg.algo.name_text(), " compares the rollouts of a prompt with each "
             "other and needs trainer.group_size >= 2");
  validate(cfg.algo, t.group_size);
  validate(cfg.lora);
  POPO_CHECK(cfg.dist.zero_stage >= 0 && cfg.dist.zero_stage <= 2, "config: dist.zero_stage must be 0, 1 or 2, got ",
             cfg.dist.zero_stage);

  // Model.
  if (cfg.model.path.empty()) {
    const TinyModelSpec& m = cfg.model.tiny;
    check_positive(m.hidden_size, "model.tiny.hidden_size");
    check_positive(m.num_hidden_layers, "model.tiny.num_hidden_layers");
    check_positive(m.num_attention_heads, "model.tiny.num_attention_heads");
    check_positive(m.num_key_value_heads, "model.tiny.num_key_value_heads");
    check_positive(m.intermediate_size, "model.tiny.intermediate_size");
    POPO_CHECK(m.hidden_size % m.num_attention_heads == 0, "config: model.tiny.hidden_size (",
               m.hidden_size, ") must be a multiple of model.tiny.num_attention_heads (",
               m.num_attention_heads, ")");
    POPO_CHECK(m.num_attention_heads % m.num_key_value_heads == 0,
               "config: model.tiny.num_attention_heads (", m.num_attention_heads,
               ") must be a multiple of model.tiny.num_key_value_heads (", m.num_key_value_heads, ")");
    POPO_CHECK(m.vocab_size >= 256 + 8, "config: model.tiny.vocab_size must be >= 264 (256 bytes "
               "+ special tokens), got ", m.vocab_size);
    POPO_CHECK(m.max_position_embeddings >= cfg.sampling.max_new_tokens + 16,
               "config: model.tiny.max_position_embeddings (", m.max_position_embeddings,
               ") leaves no room for prompts of sampling.max_new_tokens (",
               cfg.sampling.max_new_tokens, ") tokens");
    POPO_CHECK(cfg.warm_start.steps >= 0, "config: warm_start.steps must be >= 0, got ",
               cfg.warm_start.steps);
    if (cfg.warm_start.steps > 0) {
      check_positive(cfg.warm_start.batch_size, "warm_start.batch_size");
      POPO_CHECK(cfg.warm_start.lr > 0, "config: warm_start.lr must be > 0, got ", cfg.warm_start.lr);
    }
  } else {
    POPO_CHECK(is_folder(cfg.model.path), "config: model.path '", cfg.model.path,
               "' is not a folder (expected a Hugging Face model folder with config.json, "
               "*.safetensors and tokenizer.json)");
    POPO_CHECK(path_exists((fs::path(cfg.model.path) / "config.json").string()), "config: model.path '",
               cfg.model.path, "' has no config.json");
    POPO_CHECK(path_exists((fs::path(cfg.model.path) / "tokenizer.json").string()), "config: model.path '",
               cfg.model.path, "' has no tokenizer.json (popo reads the Hugging Face "
               "tokenizer.json; hint: copy it from the original model repository)");
  }
  static const std::vector<std::string> dtypes = {"auto", "float32", "bfloat16", "float16",
                                                  "fp32", "bf16", "fp16"};
  POPO_CHECK(std::find(dtypes.begin(), dtypes.end(), cfg.model.dtype) != dtypes.end(),
             "config: model.dtype '", cfg.model.dtype, "' unknown; expected one of ", join(dtypes));
  const std::string& dev = cfg.model.device;
  POPO_CHECK(dev == "auto" || dev == "cpu" || dev == "cuda" || dev.rfind("cuda:", 0) == 0,
             "config: model.device '", dev, "' unknown; expected auto | cpu | cuda | cuda:N");

  // Data.
  const auto& tpls = known_templates();
  POPO_CHECK(std::find(tpls.begin(), tpls.end(), cfg.data.template_name) != tpls.end(),
             "config: data.template '", cfg.data.template_name, "' unknown; expected one of ",
             join(tpls));
  for (const auto& [key, value] : {std::pair<const char*, const std::string*>{"data.dataset", &cfg.data.dataset},
                                   {"data.heldout", &cfg.data.heldout}}) {
    if (value->empty() || *value == "arithmetic") continue;
    const std::string path = resolve_dataset_path(*value);
    POPO_CHECK(path_exists(path), "config: ", key, " '", *value, "': file ", path,
               " does not exist (expected arithmetic, a JSONL path or one of ",
               join(benchmark_names()), ")");
  }
  POPO_CHECK(!cfg.data.dataset.empty(), "config: data.dataset is empty (expected arithmetic, a "
             "JSONL path or a benchmark name)");
  POPO_CHECK(cfg.data.heldout_size >= 0, "config: data.heldout_size must be >= 0, got ",
             cfg.data.heldout_size);
  if (cfg.data.heldout.empty()) {
    POPO_CHECK(cfg.data.heldout_size > 0, "config: data.heldout = \"\" (split off the training "
               "set) needs data.heldout_size > 0");
  }
  check_positive(cfg.data.max_prompt_tokens, "data.max_prompt_tokens");
  POPO_CHECK(cfg.data.rl_subset >= 0, "config: data.rl_subset must be >= 0 (0 = all), got ",
             cfg.data.rl_subset);
  if (cfg.data.dataset == "arithmetic" || cfg.data.heldout == "arithmetic") {
    check_positive(cfg.data.train_size, "data.train_size");
    try {
      validate(cfg.data.arithmetic);
    } catch (const Error& e) {
      POPO_FAIL("config: data.arithmetic: ", e.what());
    }
  }
  if (cfg.data.dataset != "arithmetic" && cfg.model.path.empty()) {
    POPO_FAIL("config: data.dataset '", cfg.data.dataset, "' needs a real model (model.path); the "
              "built-in tiny model and its tokenizer only know the arithmetic task");
  }

  // Sampling.
  POPO_CHECK(cfg.sampling.temperature >= 0, "config: sampling.temperature must be >= 0, got ",
             cfg.sampling.temperature);
  POPO_CHECK(cfg.sampling.top_p > 0 && cfg.sampling.top_p <= 1,
             "config: sampling.top_p must be in (0, 1], got ", cfg.sampling.top_p);
  POPO_CHECK(cfg.sampling.top_k >= 0, "config: sampling.top_k must be >= 0, got ", cfg.sampling.top_k);
  check_positive(cfg.sampling.max_new_tokens, "sampling.max_new_tokens");
  POPO_CHECK(cfg.algo.grpo.overlong_buffer <= cfg.sampling.max_new_tokens,
             "config: grpo.overlong_buffer (", cfg.algo.grpo.overlong_buffer,
             ") must be <= sampling.max_new_tokens (", cfg.sampling.max_new_tokens, ")");

  // Trainer.
  check_positive(t.optim.steps, "trainer.steps");
  check_positive(t.prompts_per_step, "trainer.prompts_per_step");
  check_positive(t.group_size, "trainer.group_size");
  check_positive(t.update.micro_batch_size, "trainer.micro_batch_size");
  check_positive(t.update.logprob_chunk_tokens, "trainer.logprob_chunk_tokens");
  const int64_t rollouts = t.prompts_per_step * t.group_size;
  POPO_CHECK(rollouts % t.update.micro_batch_size == 0, "config: trainer.prompts_per_step * "
             "trainer.group_size = ", t.prompts_per_step, " * ", t.group_size, " = ", rollouts,
             " rollouts is not divisible by trainer.micro_batch_size = ", t.update.micro_batch_size,
             " (hint: pick a micro batch that divides ", rollouts, ")");
  const OptimConfig& o = t.optim;
  POPO_CHECK(o.lr > 0, "config: trainer.lr must be > 0, got ", o.lr);
  POPO_CHECK(o.warmup_ratio >= 0 && o.warmup_ratio < 1,
             "config: trainer.warmup_ratio must be in [0, 1), got ", o.warmup_ratio);
  POPO_CHECK(o.weight_decay >= 0, "config: trainer.weight_decay must be >= 0, got ", o.weight_decay);
  POPO_CHECK(o.adam_beta1 >= 0 && o.adam_beta1 < 1, "config: trainer.adam_beta1 must be in [0, 1), got ",
             o.adam_beta1);
  POPO_CHECK(o.adam_beta2 >= 0 && o.adam_beta2 < 1, "config: trainer.adam_beta2 must be in [0, 1), got ",
             o.adam_beta2);
  POPO_CHECK(o.adam_eps > 0, "config: trainer.adam_eps must be > 0, got ", o.adam_eps);
  POPO_CHECK(o.grad_clip >= 0, "config: trainer.grad_clip must be >= 0 (0 = off), got ", o.grad_clip);
  check_positive(t.max_nonfinite_in_a_row, "trainer.max_nonfinite_in_a_row");
  POPO_CHECK(t.eval_every >= 0, "config: trainer.eval_every must be >= 0, got ", t.eval_every);
  check_positive(t.eval_samples, "trainer.eval_samples");
  POPO_CHECK(t.save_every >= 0, "config: trainer.save_every must be >= 0, got ", t.save_every);
  check_positive(t.keep_checkpoints, "trainer.keep_checkpoints");
  POPO_CHECK(t.seed >= 0, "config: trainer.seed must be >= 0, got ", t.seed);
  POPO_CHECK(t.threads >= 0, "config: trainer.threads must be >= 0, got ", t.threads);

  // Run.
  POPO_CHECK(!cfg.run.dir.empty(), "config: run.dir is empty");
  POPO_CHECK(cfg.run.name.find('/') == std::string::npos, "config: run.name '", cfg.run.name,
             "' must be a folder name, not a path (use run.dir for the parent)");
}

}  // namespace popo
