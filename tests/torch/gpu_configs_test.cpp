// The GPU run configs (configs/qwen2.5-math-{7b,1.5b}-popo.yaml) load with the real RunConfig
// loader (strict: an unknown or misspelled key fails) and hold the reference run of POPO.md.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/build_paths.h"
#include "core/config.h"
#include "train/train_config.h"

namespace popo {
namespace {

// Returns the repository root: this file is <root>/tests/torch/gpu_configs_test.cpp.
std::string repo_root() {
  std::string f = source_file(__FILE__).string();
  for (int i = 0; i < 3; ++i) f = f.substr(0, f.find_last_of('/'));
  return f;
}

TEST(GpuConfigs, ReferenceRunConfigsLoadAndMatchPopoMd) {
  for (const char* name : {"qwen2.5-math-7b-popo.yaml", "qwen2.5-math-1.5b-popo.yaml", "qwen2.5-math-7b-popo-lora.yaml"}) {
    SCOPED_TRACE(name);
    RunConfig cfg;
    // Throws popo::Error naming the key for an unknown key.
    ASSERT_NO_THROW(load_yaml_file(repo_root() + "/configs/" + name, cfg));
    ASSERT_NO_THROW(validate(cfg.lora));
    // POPO.md, "Reference run"; the LoRA variant differs in its learning rate and adapters only.
    const bool lora = std::string(name).find("lora") != std::string::npos;
    EXPECT_EQ(cfg.lora.enabled(), lora);
    if (lora) {
      EXPECT_EQ(cfg.lora.rank, 64);
      EXPECT_EQ(cfg.lora.target_modules, lora_module_names());
    }
    // The full 7B run needs its optimizer state sharded over several cards (docs/GPU.md); the
    // 1.5B and the LoRA 7B runs fit one card.
    const bool full_7b = std::string(name) == "qwen2.5-math-7b-popo.yaml";
    EXPECT_EQ(cfg.dist.zero_stage, full_7b ? 2 : 0);
    EXPECT_EQ(cfg.algo.name, Algorithm::kPopo);
    EXPECT_EQ(cfg.trainer.optim.steps, 1500);
    EXPECT_DOUBLE_EQ(cfg.trainer.optim.lr, lora ? 1e-5 : 1e-7);
    EXPECT_DOUBLE_EQ(cfg.trainer.optim.warmup_ratio, 0.1);
    EXPECT_EQ(cfg.trainer.optim.schedule, LrSchedule::kCosine);
    EXPECT_DOUBLE_EQ(cfg.trainer.optim.weight_decay, 0.01);
    EXPECT_DOUBLE_EQ(cfg.trainer.optim.grad_clip, 1.0);
    EXPECT_EQ(cfg.trainer.prompts_per_step, 8);
    EXPECT_EQ(cfg.trainer.group_size, 8);
    EXPECT_EQ(cfg.data.max_prompt_tokens, 512);
    EXPECT_EQ(cfg.sampling.max_new_tokens, 1024);
    EXPECT_DOUBLE_EQ(cfg.sampling.temperature, 1.0);
    EXPECT_EQ(cfg.model.dtype, "bfloat16");
    EXPECT_TRUE(cfg.model.gradient_checkpointing);
    EXPECT_EQ(cfg.data.template_name, "qwen-boxed");
    // The training set by name, so the config works from a clone and installed alike.
    EXPECT_EQ(cfg.data.dataset, "math_train");
    EXPECT_TRUE(std::filesystem::exists(resolve_dataset_path(cfg.data.dataset))) << resolve_dataset_path(cfg.data.dataset);
    EXPECT_EQ(cfg.algo.popo.predictor_hidden, 4096);
    EXPECT_DOUBLE_EQ(cfg.algo.popo.noise_std, 0.01);
    EXPECT_DOUBLE_EQ(cfg.algo.popo.momentum, 0.999);
    EXPECT_EQ((cfg.trainer.prompts_per_step * cfg.trainer.group_size) % cfg.trainer.update.micro_batch_size, 0);
  }
}

}  // namespace
}  // namespace popo
