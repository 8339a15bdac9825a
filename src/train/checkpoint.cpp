// Checkpoint write (temporary folder + rename, keep last K), discovery and restore.
#include "train/checkpoint.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "core/io.h"
#include "core/log.h"
#include "model/load.h"
#include "model/safetensors.h"

namespace popo {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPrefix = "step-";

// Returns the step of a checkpoint folder name "step-000042", or -1 for any other name.
int64_t parse_step(const std::string& name) {
  if (name.rfind(kPrefix, 0) != 0) return -1;
  const std::string digits = name.substr(std::char_traits<char>::length(kPrefix));
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return -1;
  return std::stoll(digits);
}

// Returns the (step, path) of every complete checkpoint folder, oldest first.
std::vector<std::pair<int64_t, fs::path>> list_checkpoints(const std::string& dir) {
  std::vector<std::pair<int64_t, fs::path>> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_directory()) continue;
    const int64_t step = parse_step(entry.path().filename().string());
    if (step < 0) continue;
    if (!fs::exists(entry.path() / "state.json")) continue;
    out.emplace_back(step, entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Loads fp32 masters from file p into masters (in place); without the file they are re-derived
// from the loaded weights they shadow (warned).
void load_masters(const fs::path& p, const std::vector<torch::Tensor>& masters,
                  const std::vector<torch::Tensor>& mastered) {
  if (masters.empty()) return;
  POPO_CHECK(mastered.size() == masters.size(), "load_checkpoint: ", masters.size(),
             " master weights but ", mastered.size(), " mastered parameters");
  torch::NoGradGuard no_grad;
  if (fs::exists(p)) {
    std::vector<torch::Tensor> saved;
    torch::load(saved, p.string());
    POPO_CHECK(saved.size() == masters.size(), p.string(), ": holds ", saved.size(),
               " master weights, the learner has ", masters.size());
    for (size_t i = 0; i < saved.size(); ++i) {
      POPO_CHECK(saved[i].sizes() == masters[i].sizes(), p.string(), ": master ", i,
                 " has shape ", saved[i].sizes(), ", expected ", masters[i].sizes());
      masters[i].copy_(saved[i]);
    }
  } else {
    LOG_WARN(p.string(), ": missing; fp32 master weights re-derived from the loaded weights");
    for (size_t i = 0; i < masters.size(); ++i) masters[i].copy_(mastered[i]);
  }
}

}  // namespace

std::string checkpoint_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%s%06lld", kPrefix, static_cast<long long>(step));
  return buf;
}

nlohmann::json TrainerState::to_json() const {
  return nlohmann::json{{"step", step},
                        {"epoch", epoch},
                        {"cursor", cursor},
                        {"nonfinite_in_a_row", nonfinite_in_a_row},
                        {"momentum_tau", momentum_tau},
                        {"best_heldout", best_heldout},
                        {"base_heldout", base_heldout},
                        {"metrics_rows", metrics_rows},
                        {"elapsed_seconds", elapsed_seconds},
                        {"extra", extra}};
}

TrainerState TrainerState::from_json(const nlohmann::json& j, const std::string& origin) {
  TrainerState s;
  try {
    s.step = j.at("step").get<int64_t>();
    s.epoch = j.at("epoch").get<int64_t>();
    s.cursor = j.at("cursor").get<int64_t>();
    s.nonfinite_in_a_row = j.at("nonfinite_in_a_row").get<int64_t>();
    s.momentum_tau = j.at("momentum_tau").get<double>();
    s.best_heldout = j.at("best_heldout").get<double>();
    s.base_heldout = j.value("base_heldout", -1.0);
    s.metrics_rows = j.at("metrics_rows").get<int64_t>();
    s.elapsed_seconds = j.value("elapsed_seconds", 0.0);
    if (j.contains("extra")) s.extra = j.at("extra");
  } catch (const nlohmann::json::exception& e) {
    POPO_FAIL(origin, ": not a valid checkpoint state (", e.what(), ")");
  }
  return s;
}

std::string save_checkpoint(const std::string& checkpoints_dir, const CheckpointParts& parts,
                            const TrainerState& state, int64_t keep_last) {
  POPO_CHECK(parts.policy != nullptr, "save_checkpoint: no policy given");
  const fs::path root(checkpoints_dir);
  fs::create_directories(root);
  const std::string name = checkpoint_name(state.step);
  const fs::path final_dir = root / name;
  const fs::path tmp_dir = root / (".tmp-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(tmp_dir);
  fs::create_directories(tmp_dir);

  // 1. Every part into the temporary folder.
  save_model(*parts.policy, (tmp_dir / "policy").string());
  if (!parts.tokenizer_json.empty()) {
    write_file_atomic((tmp_dir / "policy" / "tokenizer.json").string(),
                      read_file(parts.tokenizer_json));
  }
  if (parts.siamese) save_model(*parts.siamese, (tmp_dir / "siamese").string());
  if (parts.predictor) torch::save(*parts.predictor, (tmp_dir / "predictor.pt").string());
  if (parts.optimizer) torch::save(*parts.optimizer, (tmp_dir / "optimizer.pt").string());
  if (!parts.masters.empty()) torch::save(parts.masters, (tmp_dir / "masters.pt").string());
  if (!parts.siamese_masters.empty())
    torch::save(parts.siamese_masters, (tmp_dir / "siamese_masters.pt").string());
  // state.json last: its presence marks a complete folder.
  write_file_atomic((tmp_dir / "state.json").string(), state.to_json().dump(2) + "\n");

  // 2. Rename into place; an older folder of the same step (a re-save) is moved aside first.
  if (fs::exists(final_dir)) {
    const fs::path old = root / (".old-" + name + "-" + std::to_string(::getpid()));
    fs::remove_all(old);
    fs::rename(final_dir, old);
    fs::rename(tmp_dir, final_dir);
    fs::remove_all(old);
  } else {
    fs::rename(tmp_dir, final_dir);
  }

  // 3. Keep the newest keep_last checkpoints.
  auto all = list_checkpoints(checkpoints_dir);
  const int64_t keep = std::max<int64_t>(keep_last, 1);
  for (int64_t i = 0; i + keep < static_cast<int64_t>(all.size()); ++i) {
    std::error_code ec;
    fs::remove_all(all[i].second, ec);
  }
  return final_dir.string();
}

std::string latest_checkpoint(const std::string& checkpoints_dir) {
  auto all = list_checkpoints(checkpoints_dir);
  return all.empty() ? std::string() : all.back().second.string();
}

TrainerState load_checkpoint(const std::string& dir, const CheckpointParts& parts) {
  const fs::path root(dir);
  const std::string state_path = (root / "state.json").string();
  POPO_CHECK(fs::exists(state_path), dir, ": not a checkpoint folder (no state.json)");
  TrainerState state =
      TrainerState::from_json(nlohmann::json::parse(read_file(state_path)), state_path);
  if (parts.policy) {
    load_weights(*parts.policy, read_safetensors_dir((root / "policy").string()),
                 (root / "policy").string());
  }
  if (parts.siamese) {
    const fs::path p = root / "siamese";
    POPO_CHECK(fs::exists(p), p.string(), ": missing (the run uses a siamese network; was the "
               "checkpoint written by a different algorithm?)");
    load_weights(*parts.siamese, read_safetensors_dir(p.string()), p.string());
  }
  if (parts.predictor) {
    const fs::path p = root / "predictor.pt";
    POPO_CHECK(fs::exists(p), p.string(), ": missing (the run uses a predictor)");
    torch::load(*parts.predictor, p.string());
  }
  if (parts.optimizer) {
    const fs::path p = root / "optimizer.pt";
    POPO_CHECK(fs::exists(p), p.string(), ": missing optimizer state");
    torch::load(*parts.optimizer, p.string());
  }
  load_masters(root / "masters.pt", parts.masters, parts.mastered);
  load_masters(root / "siamese_masters.pt", parts.siamese_masters, parts.siamese_mastered);
  return state;
}

}  // namespace popo
