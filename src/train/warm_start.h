// The built-in base model of the demonstration: a byte-level BPE tokenizer trained on the task
// corpus (tokenizer/bpe_trainer.h), a randomly initialised tiny Qwen2-architecture model, and a
// short supervised warm start on worked solutions, so that RL starts from a policy that is
// sometimes right. The result is an ordinary Hugging Face model folder (config.json,
// model.safetensors, tokenizer.json), cached under a key that hashes every input, so the second
// run starts at once. Not a general SFT trainer: no packing, no eval, fp32 on the run's device.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "train/train_config.h"

namespace popo {

// One supervised example: the model reads prompt and learns target (followed by EOS).
struct SftExample {
  std::string prompt;  // templated prompt text
  std::string target;  // response text (without EOS)
};

// Special tokens of the built-in tokenizer, EOS first.
const std::vector<std::string>& builtin_special_tokens();

// Returns the cache key (16 hex digits) of a built-in model: a hash of the tiny spec, the
// warm-start options and the text of every example and corpus line.
std::string builtin_model_key(const RunConfig& cfg, const std::vector<SftExample>& examples,
                              const std::vector<std::string>& corpus);

// Returns the folder of the built-in base model for cfg, building it under cache_dir when
// absent: trains the tokenizer on corpus (prompts and solutions), initialises the tiny model
// (seed warm_start.seed) and fine-tunes it for warm_start.steps on examples. The folder is
// written atomically (temporary folder + rename). log_progress prints one line per 10% of steps.
std::string prepare_builtin_model(const RunConfig& cfg, const std::vector<SftExample>& examples,
                                  const std::vector<std::string>& corpus,
                                  const std::string& cache_dir, bool log_progress);

}  // namespace popo
