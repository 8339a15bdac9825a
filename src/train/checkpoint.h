// Training checkpoints: one folder per step under <run>/checkpoints/step-NNNNNN holding
//   policy/          a Hugging Face model folder (config.json, model.safetensors, tokenizer.json)
//                    loadable by `popo generate --model` and by transformers; with LoRA a PEFT
//                    adapter folder (adapter_config.json, adapter_model.safetensors,
//                    tokenizer.json) over the run's base model, loadable by popo and by PEFT
//   siamese/         the momentum network (POPO), same layout without the tokenizer
//   predictor.pt     POPO's predictor (torch::save)
//   optimizer.pt     the AdamW state (torch::save)
//   masters.pt       fp32 master weights of a bf16/fp16 run (torch::save of the tensor list)
//   siamese_masters.pt  fp32 masters of a bf16/fp16 siamese network (the same form)
//   zero_state.safetensors  dist.zero_stage >= 1: the sharded fp32 masters, AdamW moments and
//                    siamese masters, whole (train/zero.h: streamed from every rank's slice by
//                    rank 0), so any world size resumes it
//   state.json       step, data cursor, counters, momentum state, metric rows written
// A checkpoint is written into a hidden temporary folder and renamed into place, so a crash
// mid-write leaves the previous checkpoint intact; only the last K are kept. state.json also
// records each file's size and digest, so a file truncated or corrupted later is named on resume
// (and --resume falls back to the checkpoint before it). Every random
// stream of a step is derived from (run seed, step), so no generator state needs saving.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/causal_lm.h"
#include "rl/predictor.h"

namespace torch::optim {
class Optimizer;
}

namespace popo {

class ZeroOptimizer;

// The scalar state of a trainer at a step boundary (state.json).
struct TrainerState {
  int64_t step = 0;                // optimizer steps done
  int64_t epoch = 0;               // data cursor: epoch of the training order
  int64_t cursor = 0;              // data cursor: next index into the epoch's order
  int64_t nonfinite_in_a_row = 0;  // non-finite steps skipped in a row
  double momentum_tau = 0;         // MomentumSchedule state (adaptive law)
  double best_heldout = -1;        // best held-out accuracy so far (-1 = none yet)
  double base_heldout = -1;        // held-out accuracy before the first step (-1 = none)
  int64_t metrics_rows = 0;        // rows of metrics.jsonl written up to this step
  double elapsed_seconds = 0;      // wall time of the run up to this step
  nlohmann::json extra = nlohmann::json::object();  // free-form additions

  // Returns the state.json form; from_json(to_json()) reproduces the state.
  nlohmann::json to_json() const;
  static TrainerState from_json(const nlohmann::json& j, const std::string& origin);
};

// What a checkpoint saves and restores; null members are skipped.
struct CheckpointParts {
  CausalLM* policy = nullptr;                 // required
  CausalLM* siamese = nullptr;                // POPO momentum network
  Predictor* predictor = nullptr;             // POPO predictor
  torch::optim::Optimizer* optimizer = nullptr;
  std::string tokenizer_json;                 // path of tokenizer.json copied into policy/
  std::string base_model_dir;                 // LoRA: the base model folder adapter_config.json names
  // fp32 masters of a mixed-precision learner (Learner::master_weights(); loaded in place) and
  // the model parameters they shadow (Learner::mastered_parameters(); same length). A
  // checkpoint without masters.pt re-derives the masters from the loaded weights (precision of
  // the rounded weights only; warned).
  std::vector<at::Tensor> masters;
  std::vector<at::Tensor> mastered;
  // The same for a bf16/fp16 siamese network (Learner::siamese_master_weights() and
  // siamese_mastered_parameters(); siamese_masters.pt).
  std::vector<at::Tensor> siamese_masters;
  std::vector<at::Tensor> siamese_mastered;
  // dist.zero_stage >= 1: the sharded optimizer. Saving calls zero->write_state() into the
  // folder (a collective: the other ranks call write_state("") at the same time); loading reads
  // this rank's slices of zero_state.safetensors.
  ZeroOptimizer* zero = nullptr;
};

// Writes checkpoint `state.step` under checkpoints_dir atomically (temporary folder + rename),
// then deletes all but the newest keep_last checkpoints. Returns the checkpoint folder.
std::string save_checkpoint(const std::string& checkpoints_dir, const CheckpointParts& parts,
                            const TrainerState& state, int64_t keep_last);

// Returns the newest complete checkpoint folder under checkpoints_dir, or "" if there is none.
std::string latest_checkpoint(const std::string& checkpoints_dir);

// Loads the parts present in parts from checkpoint folder dir (weights are copied into the
// existing modules, keeping their dtype and device) and returns its state. Every file is first
// checked against the sizes and digests state.json recorded, before anything is loaded. Throws
// popo::Error naming the file when a part is missing, truncated, corrupt or does not match.
TrainerState load_checkpoint(const std::string& dir, const CheckpointParts& parts);

// The checkpoint a resumed run continues from.
struct ResumePoint {
  std::string dir;      // the checkpoint folder loaded
  TrainerState state;   // its state
  std::vector<std::pair<std::string, std::string>> skipped;  // newer (folder, what is wrong), newest first
};

// Loads the newest checkpoint under checkpoints_dir whose files match the manifest in its
// state.json and load: a newer one that is truncated or corrupt is skipped (listed in skipped)
// for the one before it. Throws popo::Error when there is no checkpoint, or when none loads
// (naming each one and what is wrong with it).
ResumePoint load_latest_valid_checkpoint(const std::string& checkpoints_dir, const CheckpointParts& parts);

// Returns the folder name of a step's checkpoint: "step-000042".
std::string checkpoint_name(int64_t step);

}  // namespace popo
