// `popo eval --model DIR --bench aime2025,math500 [--data FILE] --samples K ...`: evaluates a
// Hugging Face model folder (config.json, *.safetensors, tokenizer.json) on math benchmarks with
// eval/evaluator.h and writes, atomically, OUT/<bench>.jsonl (one judged response per line),
// OUT/summary.json and OUT/summary.md (avg@K, pass@K, mean tokens, no-answer share per benchmark).
// Defaults follow the Qwen2.5-Math evaluation (docs/EVAL.md). Inputs are all checked before the
// model is loaded, so a typo fails in a second, not after minutes of loading.
#include <c10/core/Device.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/io.h"
#include "core/log.h"
#include "data/math_dataset.h"
#include "eval/evaluator.h"
#include "model/dtype.h"
#include "model/load.h"
#include "sampling/stop_tokens.h"
#include "reward/reward_config.h"
#include "tokenizer/tokenizer.h"
#include "tools/command.h"

namespace popo::tools {
namespace {

struct EvalArgs {
  std::string model;
  std::vector<std::string> bench;
  std::vector<std::string> data;
  std::string data_dir;
  int samples = 1;
  double temperature = -1;
  double top_p = -1;
  int64_t top_k = 0;
  int64_t max_tokens = 0;
  std::string chat_template = "qwen-boxed";
  std::string out;
  int limit = 0;
  int batch_size = 64;
  uint64_t seed = 0;
  bool strict = false;
  DataKeys keys;  // where --data rows keep their fields (the benchmarks use the defaults)
  bool last_number = false;
  std::string extraction = "math_verify";  // reward.extraction
  std::string dtype = "auto";
  std::string device = "auto";
  int threads = 0;
};

struct EvalSet {
  std::string name, path;
  std::vector<MathProblem> problems;
  LoadReport report;
  DataKeys keys;
};

// Returns the folder name of a path ("runs/x/step-300/" -> "step-300").
std::string base_name(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return std::filesystem::path(path).filename().string();
}

// Returns the sets to evaluate, loaded and checked: benchmark names first, then --data files.
std::vector<EvalSet> load_sets(const EvalArgs& a) {
  POPO_CHECK(!a.bench.empty() || !a.data.empty(),
             "popo eval: give --bench NAMES (comma-separated) or --data FILE");
  const std::string data_dir = a.data_dir.empty() ? default_data_dir() : a.data_dir;
  std::vector<EvalSet> sets;
  auto add = [&](const std::string& name, const std::string& path, const DataKeys& keys) {
    EvalSet s;
    s.name = name;
    s.path = path;
    s.keys = keys;
    sets.push_back(std::move(s));
  };
  for (const auto& name : a.bench) add(name, benchmark_path(name, data_dir), DataKeys{});
  for (const auto& file : a.data) {
    std::string name = std::filesystem::path(file).stem().string();
    for (const auto& s : sets) {
      if (s.name == name) name += "-" + std::to_string(sets.size());
    }
    add(name, file, a.keys);
  }
  for (auto& s : sets) {
    POPO_CHECK(path_exists(s.path), "popo eval: data file '", s.path, "' of '", s.name,
               "' not found",
               s.path.rfind(data_dir, 0) == 0 ? "; hint: set --data-dir or POPO_DATA_DIR" : "");
    s.problems = load_math_jsonl(s.path, a.strict, &s.report, s.keys);
    if (s.report.skipped > 0) {
      std::string lines;
      for (int l : s.report.skipped_lines) lines += (lines.empty() ? "" : ", ") + std::to_string(l);
      LOG_WARN(s.path, ": skipped ", s.report.skipped, " row(s) without a prompt ('", s.keys.prompt,
               "') or an answer ('", s.keys.answer, "') ",
               "(lines ", lines,
               s.report.skipped > static_cast<int>(s.report.skipped_lines.size()) ? ", ..." : "",
               "); --strict makes this an error");
    }
    POPO_CHECK(!s.problems.empty(), "popo eval: ", s.path, " has no usable rows (need '",
               s.keys.prompt, "' and '", s.keys.answer, "'; --prompt-key and --answer-key name "
               "other fields)");
    if (a.limit > 0 && static_cast<int>(s.problems.size()) > a.limit) s.problems.resize(a.limit);
  }
  return sets;
}

// Returns x in the shortest usual form ("0.6", not "0.600000").
std::string num(double x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

// Writes OUT/summary.json and OUT/summary.md for the results so far.
void write_summary(const std::string& out, const EvalArgs& a, const EvalOptions& o,
                   const std::vector<EvalSet>& sets, const std::vector<EvalResult>& results) {
  nlohmann::json j;
  j["model"] = a.model;
  j["settings"] = {{"template", o.template_name},
                   {"samples", o.samples},
                   {"temperature", o.temperature},
                   {"top_p", o.top_p},
                   {"top_k", o.top_k},
                   {"max_new_tokens", o.max_new_tokens},
                   {"batch_rollouts", o.batch_rollouts},
                   {"seed", o.seed},
                   {"extraction", a.extraction},
                   {"limit", a.limit},
                   {"dtype", a.dtype},
                   {"device", a.device}};
  j["benchmarks"] = nlohmann::json::array();
  for (size_t i = 0; i < results.size(); ++i) {
    nlohmann::json r = eval_result_to_json(results[i]);
    r["data"] = sets[i].path;
    r["skipped_rows"] = sets[i].report.skipped;
    r["samples_file"] = sets[i].name + ".jsonl";
    j["benchmarks"].push_back(r);
  }
  write_file_atomic(path_join(out, "summary.json"), j.dump(2) + "\n");
  std::string md = "# popo eval: " + a.model + "\n\n" + "template " + o.template_name +
                   ", K=" + std::to_string(o.samples) + ", temperature " + num(o.temperature) +
                   ", top-p " + num(o.top_p) + ", max new tokens " +
                   (o.max_new_tokens > 0 ? std::to_string(o.max_new_tokens) : "from context") +
                   "\n\n" + format_eval_table(results);
  write_file_atomic(path_join(out, "summary.md"), md);
}

void run_eval(const EvalArgs& a) {
  // Everything cheap is checked before the model loads.
  EvalOptions o;
  o.template_name = a.chat_template;
  o.samples = a.samples;
  o.temperature = a.temperature;
  o.top_p = a.top_p;
  o.top_k = a.top_k;
  o.max_new_tokens = a.max_tokens;
  o.batch_rollouts = a.batch_size;
  o.seed = a.seed;
  RewardConfig reward;
  reward.extraction = a.extraction;
  o.verify = reward.verify_options();  // the trainer's grading (reward.extraction)
  o = resolve_eval_options(o);
  std::vector<EvalSet> sets = load_sets(a);
  POPO_CHECK(std::filesystem::is_directory(a.model), "popo eval: model folder '", a.model,
             "' not found (expected a folder with config.json, *.safetensors, tokenizer.json)");
  const std::string tok_path = model_tokenizer_path(a.model);  // a LoRA adapter folder: maybe its base's
  POPO_CHECK(path_exists(tok_path), "popo eval: ", tok_path, " not found; the model folder needs ",
             "the Hugging Face tokenizer.json next to config.json");
  const std::string out = a.out.empty() ? path_join("eval", base_name(a.model)) : a.out;

  init_runtime(a.threads);
  const c10::Device device = parse_device(a.device);
  const c10::ScalarType dtype =
      a.dtype == "auto" ? default_dtype_for(device) : parse_dtype(a.dtype);
  const Tokenizer tokenizer = Tokenizer::from_file(tok_path);
  CausalLM model = load_model(a.model, dtype, device);
  o.eos_token_ids = resolve_stop_tokens(model_config_dir(a.model), model->config(), tokenizer);
  LOG_INFO("model ", a.model, " (", model->config().model_type, ", ",
           model->config().num_parameters(), " parameters, context ",
           model->config().max_position_embeddings, ") on ", device.str(), " ", dtype_name(dtype));
  LOG_INFO("template ", o.template_name, ", K=", o.samples, ", temperature ", o.temperature,
           ", top-p ", o.top_p, ", top-k ", o.top_k, ", max new tokens ",
           o.max_new_tokens > 0 ? std::to_string(o.max_new_tokens) : std::string("from context"),
           ", batch ", o.batch_rollouts, " rollouts, seed ", o.seed, "; writing to ", out);

  std::vector<EvalResult> results;
  for (const auto& s : sets) {
    EvalOptions bo = o;
    bo.name = s.name;
    bo.last_number = a.last_number || benchmark_uses_last_number(s.name);
    results.push_back(
        evaluate(model, tokenizer, s.problems, bo, path_join(out, s.name + ".jsonl")));
    // The summary is rewritten after each benchmark so a long sweep leaves partial results.
    write_summary(out, a, o, sets, results);
  }
  std::cout << format_eval_table(results) << std::flush;
  LOG_INFO("wrote ", path_join(out, "summary.md"), ", summary.json and one JSONL per benchmark");
}

const CommandRegistrar kRegistrar(
    "eval", "evaluate a model on math benchmarks (avg@K, pass@K)", /*order=*/20, [](CLI::App& app) {
      auto a = std::make_shared<EvalArgs>();
      std::string known;
      for (const auto& n : benchmark_names()) known += (known.empty() ? "" : ",") + n;
      app.add_option("--model", a->model,
                     "Hugging Face model folder (config.json, "
                     "*.safetensors, tokenizer.json)")
          ->required();
      app.add_option("--bench", a->bench, "benchmarks, comma-separated: " + known)->delimiter(',');
      app.add_option("--data", a->data,
                     "extra JSONL or JSON-array file(s); rows id/problem/answer unless the "
                     "--*-key options say otherwise");
      app.add_option("--prompt-key", a->keys.prompt,
                     "--data rows: the prompt's field, a dotted path (a string or a list of "
                     "{role, content} messages)")
          ->capture_default_str();
      app.add_option("--answer-key", a->keys.answer,
                     "--data rows: the gold answer's field (e.g. reward_model.ground_truth)")
          ->capture_default_str();
      app.add_option("--id-key", a->keys.id, "--data rows: the id's field")->capture_default_str();
      app.add_option("--data-dir", a->data_dir,
                     "folder of the benchmark files (default: $POPO_DATA_DIR, else the data "
                     "shipped with popo)");
      app.add_option("--samples", a->samples, "K responses per problem")->capture_default_str();
      app.add_option("--temperature", a->temperature,
                     "sampling temperature (default: 0 = greedy when K=1, else 0.6)");
      app.add_option("--top-p", a->top_p, "nucleus sampling (default: 1 when K=1, else 0.95)");
      app.add_option("--top-k", a->top_k, "top-k sampling; 0 disables")->capture_default_str();
      app.add_option("--max-tokens", a->max_tokens,
                     "max new tokens per response (default 0: the model's context minus the "
                     "prompt)")
          ->capture_default_str();
      app.add_option("--template", a->chat_template,
                     "prompt template: qwen-boxed, chatml, "
                     "plain, raw")
          ->capture_default_str();
      app.add_option("--out", a->out, "output folder (default: eval/<model folder name>)");
      app.add_option("--limit", a->limit, "first N problems of each benchmark; 0 = all")
          ->capture_default_str();
      app.add_option("--batch-size", a->batch_size, "rollouts per generate call (prompts x K)")
          ->capture_default_str();
      app.add_option("--seed", a->seed, "sampling seed")->capture_default_str();
      app.add_flag("--strict", a->strict, "a row without problem/answer is an error, not skipped");
      app.add_flag("--last-number", a->last_number,
                   "accept the response's last number as its answer (always on for gsm8k)");
      app.add_option("--extraction", a->extraction,
                     "reward.extraction: math_verify (Math-Verify's order and fallbacks) | boxed "
                     "(only boxed answers count)")
          ->capture_default_str();
      app.add_option("--dtype", a->dtype,
                     "auto (float32 on CPU, bfloat16 on CUDA), float32, "
                     "bfloat16, float16")
          ->capture_default_str();
      app.add_option("--device", a->device, "auto, cpu, cuda, cuda:N")->capture_default_str();
      app.add_option("--threads", a->threads, "libtorch intra-op threads; 0 keeps the default")
          ->capture_default_str();
      app.callback([a] { run_eval(*a); });
    });

}  // namespace
}  // namespace popo::tools
