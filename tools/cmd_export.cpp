// `popo export SOURCE OUT [--merge]`: writes the policy of a run, a checkpoint or a model folder
// as a standalone Hugging Face folder. SOURCE is a model folder (full weights or a PEFT adapter
// folder), a checkpoint folder (its policy/) or a run folder (its newest checkpoint's policy/).
// With --merge a LoRA policy is folded into its base (W + alpha/r B A, model/lora.h merge_lora)
// and written as a full model that transformers and `popo eval` load without PEFT; without it
// the folder is written as it is (adapters stay adapters). The output folder is built under a
// temporary name and renamed into place, so a failed export leaves no half folder.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "core/error.h"
#include "core/io.h"
#include "core/log.h"
#include "model/dtype.h"
#include "model/load.h"
#include "model/lora.h"
#include "model/safetensors.h"
#include "tools/command.h"
#include "train/checkpoint.h"

namespace popo::tools {
namespace {

namespace fs = std::filesystem;

struct ExportOptions {
  std::string source;
  std::string out;
  bool merge = false;
  std::string dtype = "auto";  // of the merged model: auto = the base model's stored dtype
};

// Returns the model folder SOURCE names: itself, <checkpoint>/policy, or the newest checkpoint's
// policy/ of a run folder.
std::string resolve_source(const std::string& source) {
  POPO_CHECK(path_exists(source), "popo export: '", source, "' does not exist");
  if (path_exists(path_join(source, "config.json")) || is_lora_adapter_folder(source)) return source;
  if (path_exists(path_join(source, "policy"))) return path_join(source, "policy");
  const std::string ckpt = latest_checkpoint(path_join(source, "checkpoints"));
  POPO_CHECK(!ckpt.empty(), "popo export: '", source, "' is not a model folder (config.json or "
             "adapter_config.json), a checkpoint folder (policy/) or a run folder (checkpoints/)");
  return path_join(ckpt, "policy");
}

// Returns the dtype config.json of dir records (torch_dtype / dtype), float32 if none.
c10::ScalarType stored_dtype(const std::string& dir) {
  const std::string path = path_join(dir, "config.json");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    POPO_FAIL(path, ": not valid JSON (", e.what(), ")");
  }
  for (const char* key : {"dtype", "torch_dtype"})
    if (j.contains(key) && j[key].is_string()) return parse_dtype(j[key].get<std::string>());
  return c10::kFloat;
}

void copy_if_present(const std::string& from_dir, const std::string& name, const fs::path& to_dir) {
  const std::string from = path_join(from_dir, name);
  if (path_exists(from)) write_file_atomic((to_dir / name).string(), read_file(from));
}

void run_export(const ExportOptions& o) {
  init_runtime(1);
  const std::string src = resolve_source(o.source);
  const bool adapters = is_lora_adapter_folder(src) && !path_exists(path_join(src, "config.json"));
  POPO_CHECK(!path_exists(o.out) || (fs::is_directory(o.out) && fs::is_empty(o.out)), "popo export: '", o.out,
             "' already exists and is not an empty folder; name a new output folder");
  const fs::path out(o.out);
  if (out.has_parent_path()) fs::create_directories(out.parent_path());
  const fs::path tmp = out.string() + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  try {
    const std::string config_dir = model_config_dir(src);
    if (adapters && o.merge) {
      const c10::ScalarType dtype = o.dtype == "auto" ? stored_dtype(config_dir) : parse_dtype(o.dtype);
      CausalLM model = load_model(src, dtype, c10::Device(c10::kCPU));
      const int64_t n = model->lora->numel();
      merge_lora(model);
      save_model(model, tmp.string());
      LOG_INFO("merged ", n, " adapter parameters (", src, ") into ", config_dir, " as ", dtype_name(dtype));
    } else if (adapters) {
      for (const char* f : {"adapter_config.json", "adapter_model.safetensors"}) copy_if_present(src, f, tmp);
    } else {
      POPO_CHECK(o.dtype == "auto", "popo export: --dtype applies to --merge of LoRA adapters; '", src,
                 "' holds full weights, copied as they are");
      if (o.merge) LOG_INFO(src, " holds full weights (no adapters): nothing to merge, copied as it is");
      for (const std::string& f : safetensors_files(src)) copy_if_present(src, fs::path(f).filename().string(), tmp);
      copy_if_present(src, "model.safetensors.index.json", tmp);
      copy_if_present(src, "config.json", tmp);
    }
    // The files that go with the weights: the tokenizer (the adapter folder's own, else the
    // base's) and the generation config of the base.
    write_file_atomic((tmp / "tokenizer.json").string(), read_file(model_tokenizer_path(src)));
    for (const char* f : {"tokenizer_config.json", "special_tokens_map.json", "generation_config.json"}) {
      if (path_exists(path_join(src, f))) {
        copy_if_present(src, f, tmp);
      } else {
        copy_if_present(config_dir, f, tmp);
      }
    }
    fsync_dir(tmp.string());
    if (fs::exists(out)) fs::remove(out);  // the empty folder checked above
    fs::rename(tmp, out);
    fsync_dir(out.has_parent_path() ? out.parent_path().string() : ".");
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  std::printf("%s\n", o.out.c_str());
}

const CommandRegistrar kRegistrar(
    "export", "write a run's policy as a Hugging Face folder (--merge folds LoRA adapters in)", /*order=*/35,
    [](CLI::App& app) {
      auto o = std::make_shared<ExportOptions>();
      app.add_option("source", o->source, "run folder, checkpoint folder or model/adapter folder")->required();
      app.add_option("out", o->out, "new output folder")->required();
      app.add_flag("--merge", o->merge, "fold LoRA adapters into the base: a full model folder");
      app.add_option("--dtype", o->dtype, "dtype of the merged model: auto (the base's) | float32 | bfloat16 | float16")
          ->capture_default_str();
      app.callback([o] { run_export(*o); });
    });

}  // namespace
}  // namespace popo::tools
