// LoRA adapters in PEFT's layout (see lora.h).
#include "model/lora.h"

#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/io.h"
#include "model/dtype.h"
#include "model/safetensors.h"

namespace popo {

namespace {

const char* kPrefix = "base_model.model.model.layers.";

// The module's parent in a decoder layer: self_attn for q/k/v/o, mlp for gate/up/down.
const char* lora_parent(LoraModule m) { return m <= kLoraO ? "self_attn" : "mlp"; }

// Returns the base projection that module m of layer l adapts.
torch::nn::Linear& base_linear(CausalLM& model, int64_t l, LoraModule m) {
  auto layer = model->model->layers->ptr<DecoderLayerImpl>(static_cast<size_t>(l));
  switch (m) {
    case kLoraQ: return layer->self_attn->q_proj;
    case kLoraK: return layer->self_attn->k_proj;
    case kLoraV: return layer->self_attn->v_proj;
    case kLoraO: return layer->self_attn->o_proj;
    case kLoraGate: return layer->mlp->gate_proj;
    case kLoraUp: return layer->mlp->up_proj;
    default: return layer->mlp->down_proj;
  }
}

// Returns (in, out) of module m for config mc.
std::pair<int64_t, int64_t> lora_shape(const ModelConfig& mc, LoraModule m) {
  const int64_t C = mc.hidden_size, I = mc.intermediate_size;
  const int64_t q = mc.num_attention_heads * mc.head_dim, kv = mc.num_key_value_heads * mc.head_dim;
  switch (m) {
    case kLoraQ: return {C, q};
    case kLoraK: return {C, kv};
    case kLoraV: return {C, kv};
    case kLoraO: return {q, C};
    case kLoraGate: return {C, I};
    case kLoraUp: return {C, I};
    default: return {I, C};
  }
}

int module_index(const std::string& name) {
  const auto& names = lora_module_names();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<int>(i);
  return -1;
}

}  // namespace

std::string lora_tensor_name(int64_t layer, LoraModule module, bool is_b) {
  return std::string(kPrefix) + std::to_string(layer) + "." + lora_parent(module) + "." +
         lora_module_names()[static_cast<size_t>(module)] + (is_b ? ".lora_B.weight" : ".lora_A.weight");
}

std::vector<std::pair<std::string, at::Tensor>> LoraAdapters::named_tensors() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (size_t l = 0; l < layers.size(); ++l) {
    for (int m = 0; m < kLoraModules; ++m) {
      const LoraPair& p = layers[l][static_cast<size_t>(m)];
      if (!p.defined()) continue;
      out.emplace_back(lora_tensor_name(int64_t(l), LoraModule(m), false), p.A);
      out.emplace_back(lora_tensor_name(int64_t(l), LoraModule(m), true), p.B);
    }
  }
  return out;
}

std::vector<at::Tensor> LoraAdapters::tensors() const {
  std::vector<at::Tensor> out;  // named_tensors() order, without building the names
  for (const auto& layer : layers) {
    for (const LoraPair& p : layer) {
      if (!p.defined()) continue;
      out.push_back(p.A);
      out.push_back(p.B);
    }
  }
  return out;
}

int64_t LoraAdapters::numel() const {
  int64_t n = 0;
  for (const at::Tensor& t : tensors()) n += t.numel();
  return n;
}

at::Tensor lora_linear(const torch::nn::Linear& lin, const at::Tensor& x, const LoraView& view, LoraModule m) {
  at::Tensor y = torch::nn::functional::linear(x, lin->weight, lin->bias);
  if (view.pairs == nullptr || !view.pairs[m].defined()) return y;
  const LoraPair& p = view.pairs[m];
  at::Tensor xa = x.to(p.A.scalar_type());
  if (view.dropout > 0) xa = torch::dropout(xa, view.dropout, /*train=*/true);
  at::Tensor d = torch::nn::functional::linear(torch::nn::functional::linear(xa, p.A), p.B);  // (..., out)
  return (y + d * view.scale).to(y.scalar_type());
}

std::shared_ptr<LoraAdapters> make_lora_adapters(const ModelConfig& mc, const LoraConfig& cfg, uint64_t seed,
                                                 c10::Device device) {
  validate(cfg);
  POPO_CHECK(cfg.enabled(), "make_lora_adapters: lora.rank is 0");
  auto a = std::make_shared<LoraAdapters>();
  a->cfg = cfg;
  a->scale = cfg.scaling();
  a->layers.resize(static_cast<size_t>(mc.num_hidden_layers));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::NoGradGuard no_grad;
  for (int64_t l = 0; l < mc.num_hidden_layers; ++l) {
    for (const std::string& name : cfg.target_modules) {
      const LoraModule m = LoraModule(module_index(name));
      const auto [in, out] = lora_shape(mc, m);
      // kaiming_uniform_(a = sqrt(5)) on (r, in): gain sqrt(2 / (1 + 5)), bound gain sqrt(3 / in).
      const double bound = 1.0 / std::sqrt(double(in));
      at::Tensor A = torch::empty({cfg.rank, in}, torch::kFloat).uniform_(-bound, bound, gen);
      LoraPair& p = a->layers[size_t(l)][size_t(m)];
      p.A = A.to(device).set_requires_grad(true);
      p.B = torch::zeros({out, cfg.rank}, torch::TensorOptions().dtype(torch::kFloat).device(device))
                .set_requires_grad(true);
    }
  }
  return a;
}

std::shared_ptr<LoraAdapters> clone_lora_adapters(const LoraAdapters& src) {
  auto a = std::make_shared<LoraAdapters>(src);
  torch::NoGradGuard no_grad;
  for (auto& layer : a->layers) {
    for (LoraPair& p : layer) {
      if (!p.defined()) continue;
      p.A = p.A.detach().clone();
      p.B = p.B.detach().clone();
    }
  }
  return a;
}

CausalLM share_base(const CausalLM& src) {
  return CausalLM(src->config(), src->model, src->lm_head_);
}

std::vector<at::Tensor> own_tensors(const CausalLM& m) {
  return m->lora != nullptr ? m->lora->tensors() : m->parameters();
}

void attach_lora(CausalLM& model, const LoraConfig& cfg, uint64_t seed) {
  for (at::Tensor& p : model->parameters()) p.set_requires_grad(false);
  model->lora = make_lora_adapters(model->config(), cfg, seed, model->device());
}

void merge_lora(CausalLM& model) {
  POPO_CHECK(model->lora != nullptr, "merge_lora: the model has no adapters");
  torch::NoGradGuard no_grad;
  const LoraAdapters& a = *model->lora;
  for (size_t l = 0; l < a.layers.size(); ++l) {
    for (int m = 0; m < kLoraModules; ++m) {
      const LoraPair& p = a.layers[l][size_t(m)];
      if (!p.defined()) continue;
      at::Tensor& w = base_linear(model, int64_t(l), LoraModule(m))->weight;  // (out, in)
      at::Tensor delta = torch::matmul(p.B.to(torch::kFloat), p.A.to(torch::kFloat)) * a.scale;
      w.copy_((w.to(torch::kFloat) + delta.to(w.device())).to(w.scalar_type()));
    }
  }
  model->lora = nullptr;
}

void save_lora_adapter(const LoraAdapters& a, const std::string& dir, const std::string& base_model_dir) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (auto& [name, t] : a.named_tensors()) tensors.emplace_back(name, t.detach().to(torch::kCPU, torch::kFloat));
  POPO_CHECK(!tensors.empty(), "save_lora_adapter: no adapter tensors");
  write_safetensors(path_join(dir, "adapter_model.safetensors"), tensors, {{"format", "pt"}});
  std::set<std::string> targets;
  for (const auto& layer : a.layers)
    for (int m = 0; m < kLoraModules; ++m)
      if (layer[size_t(m)].defined()) targets.insert(lora_module_names()[size_t(m)]);
  nlohmann::json j = {
      {"peft_type", "LORA"},
      {"task_type", "CAUSAL_LM"},
      {"base_model_name_or_path", base_model_dir},
      {"r", a.cfg.rank},
      {"lora_alpha", a.cfg.alpha},
      {"lora_dropout", a.cfg.dropout},
      {"target_modules", std::vector<std::string>(targets.begin(), targets.end())},
      {"bias", "none"},
      {"fan_in_fan_out", false},
      {"use_rslora", false},
      {"use_dora", false},
      {"init_lora_weights", true},
      {"inference_mode", true},
      {"modules_to_save", nullptr},
      {"layers_to_transform", nullptr},
      {"layers_pattern", nullptr},
      {"rank_pattern", nlohmann::json::object()},
      {"alpha_pattern", nlohmann::json::object()},
      {"revision", nullptr},
  };
  write_file_atomic(path_join(dir, "adapter_config.json"), j.dump(2) + "\n");
}

bool is_lora_adapter_folder(const std::string& dir) { return path_exists(path_join(dir, "adapter_config.json")); }

namespace {

nlohmann::json read_adapter_config(const std::string& dir) {
  const std::string path = path_join(dir, "adapter_config.json");
  POPO_CHECK(path_exists(path), "adapter folder '", dir, "' has no adapter_config.json");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    POPO_FAIL(path, ": not valid JSON (", e.what(), ")");
  }
  POPO_CHECK(j.is_object(), path, ": expected a JSON object");
  return j;
}

}  // namespace

std::string lora_base_model_path(const std::string& dir) {
  const nlohmann::json j = read_adapter_config(dir);
  const std::string path = path_join(dir, "adapter_config.json");
  POPO_CHECK(j.contains("base_model_name_or_path") && j["base_model_name_or_path"].is_string() &&
                 !j["base_model_name_or_path"].get<std::string>().empty(),
             path, ": base_model_name_or_path is missing; popo needs the base model's folder there");
  std::string base = j["base_model_name_or_path"].get<std::string>();
  if (!base.empty() && base[0] != '/') {
    const std::string rel = path_join(dir, base);
    if (path_exists(rel)) base = rel;
  }
  return base;
}

std::shared_ptr<LoraAdapters> load_lora_adapter(const std::string& dir, const ModelConfig& mc, c10::Device device) {
  const std::string cfg_path = path_join(dir, "adapter_config.json");
  const nlohmann::json j = read_adapter_config(dir);
  auto field = [&](const char* key) -> const nlohmann::json* {
    auto it = j.find(key);
    return it == j.end() || it->is_null() ? nullptr : &*it;
  };
  auto refuse_true = [&](const char* key, const char* why) {
    const nlohmann::json* v = field(key);
    POPO_CHECK(v == nullptr || (v->is_boolean() && !v->get<bool>()), cfg_path, ": ", key, " = ",
               v ? v->dump() : "", " is not supported (", why, ")");
  };
  const nlohmann::json* type = field("peft_type");
  POPO_CHECK(type == nullptr || (type->is_string() && type->get<std::string>() == "LORA"), cfg_path,
             ": peft_type ", type ? type->dump() : "", " is not supported (expected \"LORA\")");
  refuse_true("use_dora", "DoRA adapters");
  refuse_true("fan_in_fan_out", "Conv1D-style transposed weights");
  const nlohmann::json* bias = field("bias");
  POPO_CHECK(bias == nullptr || (bias->is_string() && bias->get<std::string>() == "none"), cfg_path,
             ": bias = ", bias ? bias->dump() : "", " is not supported (expected \"none\": popo trains no biases)");
  const nlohmann::json* save = field("modules_to_save");
  POPO_CHECK(save == nullptr || (save->is_array() && save->empty()), cfg_path, ": modules_to_save = ",
             save ? save->dump() : "", " is not supported (popo adapts projections only)");
  for (const char* key : {"rank_pattern", "alpha_pattern"}) {
    const nlohmann::json* v = field(key);
    POPO_CHECK(v == nullptr || (v->is_object() && v->empty()), cfg_path, ": ", key, " = ", v ? v->dump() : "",
               " is not supported (one rank and alpha for every module)");
  }
  const nlohmann::json* r = field("r");
  const nlohmann::json* alpha = field("lora_alpha");
  POPO_CHECK(r != nullptr && r->is_number_integer() && r->get<int64_t>() >= 1, cfg_path,
             ": r must be an integer >= 1, got ", r ? r->dump() : "nothing");
  POPO_CHECK(alpha != nullptr && alpha->is_number() && alpha->get<double>() > 0, cfg_path,
             ": lora_alpha must be a number > 0, got ", alpha ? alpha->dump() : "nothing");
  const nlohmann::json* dropout = field("lora_dropout");
  const nlohmann::json* rslora = field("use_rslora");

  auto a = std::make_shared<LoraAdapters>();
  a->cfg.rank = r->get<int64_t>();
  a->cfg.alpha = alpha->get<double>();
  a->cfg.dropout = dropout != nullptr && dropout->is_number() ? dropout->get<double>() : 0.0;
  const bool use_rslora = rslora != nullptr && rslora->is_boolean() && rslora->get<bool>();
  a->scale = use_rslora ? a->cfg.alpha / std::sqrt(double(a->cfg.rank)) : a->cfg.scaling();
  a->layers.resize(static_cast<size_t>(mc.num_hidden_layers));

  const std::string file = path_join(dir, "adapter_model.safetensors");
  POPO_CHECK(path_exists(file), "adapter folder '", dir, "' has no adapter_model.safetensors");
  std::map<std::string, at::Tensor> tensors = read_safetensors(file);
  std::set<std::string> targets;
  const std::string prefix = kPrefix;
  for (const auto& [name, t] : tensors) {
    // base_model.model.model.layers.<l>.<parent>.<module>.lora_<A|B>.weight
    int64_t l = -1;
    std::string parent, module, ab;
    bool ok = name.compare(0, prefix.size(), prefix) == 0;
    if (ok) {
      std::vector<std::string> parts;
      std::stringstream ss(name.substr(prefix.size()));
      for (std::string part; std::getline(ss, part, '.');) parts.push_back(part);
      ok = parts.size() == 5 && parts[4] == "weight" && (parts[3] == "lora_A" || parts[3] == "lora_B") &&
           !parts[0].empty() && parts[0].find_first_not_of("0123456789") == std::string::npos;
      if (ok) {
        l = std::stoll(parts[0]);
        parent = parts[1];
        module = parts[2];
        ab = parts[3];
      }
    }
    const int m = ok ? module_index(module) : -1;
    POPO_CHECK(ok && m >= 0 && parent == lora_parent(LoraModule(m)), file, ": unexpected tensor '", name,
               "'; expected ", prefix, "<layer>.<self_attn|mlp>.<q|k|v|o|gate|up|down>_proj.lora_<A|B>.weight");
    POPO_CHECK(l < mc.num_hidden_layers, file, ": tensor '", name, "' is for layer ", l, " but the model has ",
               mc.num_hidden_layers, " layers");
    const auto [in, out] = lora_shape(mc, LoraModule(m));
    const std::vector<int64_t> want = ab == "lora_A" ? std::vector<int64_t>{a->cfg.rank, in}
                                                     : std::vector<int64_t>{out, a->cfg.rank};
    POPO_CHECK(t.sizes() == at::IntArrayRef(want), file, ": tensor '", name, "' has shape ", shape_string(t.sizes()),
               ", expected ", shape_string(want), " (r = ", a->cfg.rank, ")");
    LoraPair& p = a->layers[size_t(l)][size_t(m)];
    (ab == "lora_A" ? p.A : p.B) = t.to(device, torch::kFloat).contiguous();
    targets.insert(module);
  }
  for (size_t l = 0; l < a->layers.size(); ++l) {
    for (int m = 0; m < kLoraModules; ++m) {
      const LoraPair& p = a->layers[l][size_t(m)];
      POPO_CHECK(p.A.defined() == p.B.defined(), file, ": '",
                 lora_tensor_name(int64_t(l), LoraModule(m), p.A.defined()), "' is missing (its other half is there)");
    }
  }
  POPO_CHECK(!targets.empty(), file, ": no adapter tensors");
  a->cfg.target_modules.clear();
  for (const std::string& n : lora_module_names())
    if (targets.count(n)) a->cfg.target_modules.push_back(n);
  return a;
}

}  // namespace popo
