// Checkpoint write (temporary folder + rename, keep last K), discovery and restore.
#include "train/checkpoint.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <vector>

#include "core/error.h"
#include "core/io.h"
#include "core/log.h"
#include "model/load.h"
#include "model/lora.h"
#include "model/safetensors.h"
#include "train/zero.h"

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

// torch::save's bytes written through write_file_atomic (fsynced, fault-injectable, full-disk
// errors named), not by torch's own file writer.
template <class T>
void save_torch(const T& value, const fs::path& p) {
  std::ostringstream out;
  torch::save(value, out);
  write_file_atomic(p.string(), out.str());
}

// torch::load that names the file in a popo::Error when the bytes cannot be read.
template <class T>
void load_torch(T& value, const fs::path& p) {
  try {
    torch::load(value, p.string());
  } catch (const c10::Error& e) {
    const std::string what = e.what();
    POPO_FAIL(p.string(), ": cannot be read as a torch archive (",
              what.substr(0, what.find('\n')), ")");
  }
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
    load_torch(saved, p);
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

namespace {

// Returns {relative path: {bytes, hash}} of every file under dir (the checkpoint's manifest).
nlohmann::json manifest_of(const fs::path& dir) {
  nlohmann::json files = nlohmann::json::object();
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const FileDigest d = file_digest(e.path().string());
    files[fs::relative(e.path(), dir).generic_string()] = {{"bytes", d.bytes}, {"hash", d.hash}};
  }
  return files;
}

// Checks every file of the manifest in state.json against the folder; throws popo::Error naming
// the first file that is missing, truncated or corrupt.
void verify_manifest(const fs::path& dir, const nlohmann::json& files, const std::string& state_path) {
  POPO_CHECK(files.is_object(), state_path, ": 'files' must be an object of {bytes, hash}");
  for (auto it = files.begin(); it != files.end(); ++it) {
    const fs::path p = dir / it.key();
    uint64_t bytes = 0;
    std::string hash;
    try {
      bytes = it->at("bytes").get<uint64_t>();
      hash = it->at("hash").get<std::string>();
    } catch (const nlohmann::json::exception& e) {
      POPO_FAIL(state_path, ": entry '", it.key(), "' of 'files' is malformed (", e.what(), ")");
    }
    POPO_CHECK(fs::exists(p), p.string(), ": missing (the checkpoint's state.json lists it)");
    const FileDigest d = file_digest(p.string());
    POPO_CHECK(d.bytes == bytes, p.string(), ": ", d.bytes, " bytes, but the checkpoint recorded ",
               bytes, (d.bytes < bytes ? " (truncated)" : " (grown since it was written)"));
    POPO_CHECK(d.hash == hash, p.string(), ": content differs from what the checkpoint recorded "
               "(digest ", d.hash, ", expected ", hash, "): the file is corrupt");
  }
}

// Removes the temporary folders of earlier saves that crashed (.tmp-step-*, .old-step-*).
void remove_stale_temporaries(const fs::path& root) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    const std::string n = e.path().filename().string();
    if (n.rfind(".tmp-step-", 0) == 0 || n.rfind(".old-step-", 0) == 0) {
      std::error_code rm;
      fs::remove_all(e.path(), rm);
      LOG_WARN(e.path().string(), ": removed (the partial folder of a checkpoint save that did not finish)");
    }
  }
}

// Writes one network: a PEFT adapter folder when it carries LoRA adapters (the base is the
// run's base model, not copied), else a Hugging Face model folder.
void save_network(CausalLM& net, const std::string& dir, const std::string& base_model_dir) {
  if (net->lora != nullptr) {
    save_lora_adapter(*net->lora, dir, base_model_dir);
  } else {
    save_model(net, dir);
  }
}

// Loads one network saved by save_network into net (its adapters, or all its weights).
void load_network(CausalLM& net, const std::string& dir) {
  if (net->lora == nullptr) {
    POPO_CHECK(!is_lora_adapter_folder(dir) || fs::exists(fs::path(dir) / "config.json"), dir,
               ": holds LoRA adapters but this run has lora.rank = 0; resume it with the lora settings it was "
               "trained with (config.resolved.yaml of the run)");
    load_weights(net, read_safetensors_dir(dir), dir);
    return;
  }
  POPO_CHECK(is_lora_adapter_folder(dir), dir, ": holds full weights, not LoRA adapters, but this run has "
             "lora.rank = ", net->lora->cfg.rank, "; resume it with the lora settings it was trained with");
  const std::shared_ptr<LoraAdapters> saved = load_lora_adapter(dir, net->config(), net->device());
  const auto want = net->lora->named_tensors();
  const auto got = saved->named_tensors();
  POPO_CHECK(want.size() == got.size(), dir, ": ", got.size() / 2, " adapted projections, but this run adapts ",
             want.size() / 2, " (lora.rank / lora.target_modules must be the ones the run was trained with)");
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < want.size(); ++i) {
    POPO_CHECK(want[i].first == got[i].first && want[i].second.sizes() == got[i].second.sizes(), dir,
               ": adapter tensor ", i, " is '", got[i].first, "', expected '", want[i].first,
               "' with this run's lora settings");
    want[i].second.copy_(got[i].second);
  }
}

}  // namespace

std::string save_checkpoint(const std::string& checkpoints_dir, const CheckpointParts& parts,
                            const TrainerState& state, int64_t keep_last) {
  POPO_CHECK(parts.policy != nullptr, "save_checkpoint: no policy given");
  const fs::path root(checkpoints_dir);
  fs::create_directories(root);
  remove_stale_temporaries(root);
  const std::string name = checkpoint_name(state.step);
  const fs::path final_dir = root / name;
  const fs::path tmp_dir = root / (".tmp-" + name + "-" + std::to_string(::getpid()));
  fs::create_directories(tmp_dir);

  // 1. Every part into the temporary folder; on a failure (a full disk) the folder goes again
  //    and the earlier checkpoints stay as they were.
  try {
    save_network(*parts.policy, (tmp_dir / "policy").string(), parts.base_model_dir);
    if (!parts.tokenizer_json.empty()) {
      write_file_atomic((tmp_dir / "policy" / "tokenizer.json").string(),
                        read_file(parts.tokenizer_json));
    }
    if (parts.siamese) save_network(*parts.siamese, (tmp_dir / "siamese").string(), parts.base_model_dir);
    if (parts.predictor) save_torch(*parts.predictor, tmp_dir / "predictor.pt");
    if (parts.optimizer) save_torch(*parts.optimizer, tmp_dir / "optimizer.pt");
    if (!parts.masters.empty()) save_torch(parts.masters, tmp_dir / "masters.pt");
    if (!parts.siamese_masters.empty()) save_torch(parts.siamese_masters, tmp_dir / "siamese_masters.pt");
    if (parts.zero) parts.zero->write_state((tmp_dir / "zero_state.safetensors").string());
    // state.json last, with the size and digest of every other file: its presence marks a
    // complete folder, and its manifest tells a truncated or corrupt file on resume.
    nlohmann::json j = state.to_json();
    j["files"] = manifest_of(tmp_dir);
    write_file_atomic((tmp_dir / "state.json").string(), j.dump(2) + "\n");
  } catch (const Error& e) {
    std::error_code ec;
    fs::remove_all(tmp_dir, ec);
    POPO_FAIL("checkpoint of step ", state.step, " not written: ", e.what(),
              "; the earlier checkpoints under ", checkpoints_dir, " are intact");
  }

  // 2. Into place. A folder of the same step (a re-save) is swapped with the new one in one
  //    rename (RENAME_EXCHANGE), so a crash never leaves the step without a checkpoint.
  if (fs::exists(final_dir)) {
    POPO_CHECK(::renameat2(AT_FDCWD, tmp_dir.c_str(), AT_FDCWD, final_dir.c_str(), RENAME_EXCHANGE) == 0,
               final_dir.string(), ": cannot swap in the new checkpoint (", std::strerror(errno), ")");
    std::error_code ec;
    fs::remove_all(tmp_dir, ec);  // now the old folder
  } else {
    fs::rename(tmp_dir, final_dir);
  }
  fsync_dir(root.string());

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

ResumePoint load_latest_valid_checkpoint(const std::string& checkpoints_dir, const CheckpointParts& parts) {
  auto all = list_checkpoints(checkpoints_dir);
  POPO_CHECK(!all.empty(), "no checkpoint under ", checkpoints_dir);
  ResumePoint out;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    const std::string dir = it->second.string();
    try {
      out.state = load_checkpoint(dir, parts);
      out.dir = dir;
      return out;
    } catch (const Error& e) {
      out.skipped.emplace_back(dir, e.what());
      if (std::next(it) != all.rend()) {
        LOG_WARN("checkpoint ", dir, " cannot be used (", e.what(), "); falling back to the one before it, ",
                 std::next(it)->second.string());
      }
    }
  }
  std::string why;
  for (const auto& [dir, what] : out.skipped) why += "\n  " + what;
  POPO_FAIL("no usable checkpoint under ", checkpoints_dir, " (", out.skipped.size(), " tried):", why);
}

TrainerState load_checkpoint(const std::string& dir, const CheckpointParts& parts) {
  const fs::path root(dir);
  const std::string state_path = (root / "state.json").string();
  POPO_CHECK(fs::exists(state_path), dir, ": not a checkpoint folder (no state.json)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(state_path));
  } catch (const nlohmann::json::exception& e) {
    POPO_FAIL(state_path, ": not valid JSON (", e.what(), ")");
  }
  TrainerState state = TrainerState::from_json(j, state_path);
  // Checkpoints written before the manifest existed have no 'files': their parts are checked by
  // the readers below only.
  if (j.is_object() && j.contains("files")) verify_manifest(root, j.at("files"), state_path);
  if (parts.policy) {
    load_network(*parts.policy, (root / "policy").string());
  }
  if (parts.siamese) {
    const fs::path p = root / "siamese";
    POPO_CHECK(fs::exists(p), p.string(), ": missing (the run uses a siamese network; was the "
               "checkpoint written by a different algorithm?)");
    load_network(*parts.siamese, p.string());
  }
  if (parts.predictor) {
    const fs::path p = root / "predictor.pt";
    POPO_CHECK(fs::exists(p), p.string(), ": missing (the run uses a predictor)");
    load_torch(*parts.predictor, p);
  }
  if (parts.optimizer) {
    const fs::path p = root / "optimizer.pt";
    POPO_CHECK(fs::exists(p), p.string(), ": missing optimizer state");
    load_torch(*parts.optimizer, p);
  }
  const fs::path zero_file = root / "zero_state.safetensors";
  if (parts.zero) {
    POPO_CHECK(fs::exists(zero_file), zero_file.string(), ": missing; the checkpoint was written with "
               "dist.zero_stage = 0 and this run shards the optimizer state (dist.zero_stage >= 1): resume it with "
               "the stage it was trained with");
    parts.zero->load_state(zero_file.string());
  } else {
    POPO_CHECK(!fs::exists(zero_file), zero_file.string(), ": the checkpoint was written with dist.zero_stage >= 1 "
               "and this run has dist.zero_stage = 0: resume it with a sharded stage (dist.zero_stage=1 or 2, any "
               "world size)");
  }
  load_masters(root / "masters.pt", parts.masters, parts.mastered);
  load_masters(root / "siamese_masters.pt", parts.siamese_masters, parts.siamese_mastered);
  return state;
}

}  // namespace popo
