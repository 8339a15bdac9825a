// Data-parallel glue between the trainer / learner and the process group (src/dist).
#include "train/data_parallel.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "core/error.h"
#include "train/learner.h"

namespace popo {
namespace {

// The loss metrics that are shares of a global normaliser (losses.cpp): their sum over ranks is
// the single-process value. A rank without forwarded rows reports only "loss".
const char* const kAdditiveMetrics[] = {
    "loss",          "popo/nll_loss",       "popo/sim_loss",        "popo/ent_loss",
    "entropy",       "grpo/pg_loss",        "grpo/kl_loss",         "grpo/clip_frac_low",
    "grpo/clip_frac_high", "grpo/approx_kl"};

// Sums values over ranks in one collective (float64 on the group's device).
void sum_in_place(Dist& dist, std::vector<double>& values) {
  if (values.empty()) return;
  std::vector<at::Tensor> t{torch::tensor(values, torch::kDouble).to(dist.device())};
  dist.all_reduce_sum(t);
  at::Tensor back = t[0].to(torch::kCPU).contiguous();
  std::copy(back.data_ptr<double>(), back.data_ptr<double>() + back.numel(), values.begin());
}

}  // namespace

PromptShard prompt_shard(int64_t num_prompts, int world_size, int rank) {
  POPO_CHECK(world_size >= 1 && rank >= 0 && rank < world_size, "prompt_shard: rank ", rank,
             " outside world size ", world_size);
  POPO_CHECK(num_prompts % world_size == 0, "trainer.prompts_per_step = ", num_prompts,
             " is not divisible by the world size ", world_size,
             " (each rank samples an equal shard of whole prompt groups); pick a multiple of ",
             world_size);
  const int64_t per = num_prompts / world_size;
  return {per * rank, per * (rank + 1)};
}

std::shared_ptr<Dist> make_run_dist(c10::Device* device) {
  DistConfig cfg = dist_config_from_env();
  if (cfg.world_size <= 1) return nullptr;
  if (device->is_cuda()) *device = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(cfg.local_rank));
  return Dist::create(cfg, *device);
}

void attach_data_parallel(Learner& learner, std::shared_ptr<Dist> dist, double bucket_mb) {
  POPO_CHECK(dist != nullptr, "attach_data_parallel: no process group");
  Dist* d = dist.get();
  learner.reduce_normalizers = [dist, d](StepNormalizers& n) {
    std::vector<double> v{n.num_seqs, n.num_tokens, n.num_pos_tokens, n.sum_pos_weight,
                          n.num_ent_tokens, n.num_pos_seqs};
    sum_in_place(*d, v);
    n.num_seqs = v[0];
    n.num_tokens = v[1];
    n.num_pos_tokens = v[2];
    n.sum_pos_weight = v[3];
    n.num_ent_tokens = v[4];
    n.num_pos_seqs = v[5];
    // The divisor of seq-mean-token-sum-norm is a constant of the config; the max keeps every
    // rank on the same value all the same.
    const std::vector<double> lens = all_gather_scalar(*d, n.max_len);
    n.max_len = *std::max_element(lens.begin(), lens.end());
  };
  learner.reduce_scalars = [dist, d](std::vector<double>& v) { sum_in_place(*d, v); };
  learner.reduce_metrics = [dist, d](std::map<std::string, double>& m) {
    // Values and presence of every known additive key (ranks may differ in which keys they have).
    std::vector<double> v;
    for (const char* k : kAdditiveMetrics) {
      auto it = m.find(k);
      v.push_back(it == m.end() ? 0.0 : it->second);
      v.push_back(it == m.end() ? 0.0 : 1.0);
    }
    sum_in_place(*d, v);
    size_t i = 0;
    for (const char* k : kAdditiveMetrics) {
      if (v[i + 1] > 0) m[k] = v[i];
      i += 2;
    }
  };
  learner.reduce_gradients = [dist, d, bucket_mb](const std::vector<at::Tensor>& params) {
    d->all_reduce_gradients(params, /*average=*/false, bucket_mb);
  };
}

std::vector<double> all_gather_rows(Dist& dist, const std::vector<double>& values, int64_t offset,
                                    int64_t total) {
  POPO_CHECK(offset >= 0 && offset + static_cast<int64_t>(values.size()) <= total,
             "all_gather_rows: rows [", offset, ", ", offset + static_cast<int64_t>(values.size()),
             ") outside ", total);
  std::vector<double> out(static_cast<size_t>(total), 0.0);
  std::copy(values.begin(), values.end(), out.begin() + offset);
  sum_in_place(dist, out);
  return out;
}

std::vector<std::string> all_gather_text(Dist& dist, const std::string& text) {
  const std::vector<double> lens = all_gather_scalar(dist, double(text.size()));
  const int64_t longest = int64_t(*std::max_element(lens.begin(), lens.end()));
  at::Tensor mine = torch::zeros({std::max<int64_t>(longest, 1)}, torch::kUInt8);
  std::memcpy(mine.data_ptr<uint8_t>(), text.data(), text.size());
  at::Tensor all = torch::empty({int64_t(dist.world_size()) * mine.numel()}, torch::kUInt8);
  at::Tensor dev_mine = mine.to(dist.device()), dev_all = all.to(dist.device());
  dist.all_gather(dev_mine, dev_all);
  all = dev_all.to(torch::kCPU).contiguous();
  std::vector<std::string> out;
  for (int r = 0; r < dist.world_size(); ++r) {
    const uint8_t* p = all.data_ptr<uint8_t>() + int64_t(r) * mine.numel();
    out.emplace_back(reinterpret_cast<const char*>(p), size_t(lens[size_t(r)]));
  }
  return out;
}

std::vector<double> all_gather_scalar(Dist& dist, double x) {
  return all_gather_rows(dist, {x}, dist.rank(), dist.world_size());
}

int64_t broadcast_int(Dist& dist, int64_t x) {
  std::vector<at::Tensor> t{torch::tensor({x}, torch::kLong).to(dist.device())};
  dist.broadcast(t, /*root=*/0);
  return t[0].to(torch::kCPU).item<int64_t>();
}

std::pair<double, double> params_checksum(const std::vector<at::Tensor>& params) {
  torch::NoGradGuard no_grad;
  double s = 0, s2 = 0;
  for (const at::Tensor& p : params) {
    at::Tensor d = p.detach().to(torch::kDouble);
    s += d.sum().item<double>();
    s2 += (d * d).sum().item<double>();
  }
  return {s, s2};
}

void check_replicas_identical(Dist& dist, const std::vector<at::Tensor>& params,
                              const std::string& what, int64_t step) {
  const auto [s, s2] = params_checksum(params);
  const std::vector<double> a = all_gather_scalar(dist, s), b = all_gather_scalar(dist, s2);
  for (int r = 1; r < dist.world_size(); ++r) {
    POPO_CHECK(a[r] == a[0] && b[r] == b[0], "data parallel: the ", what,
               " replicas differ after step ", step, ": checksum of rank ", r, " (", a[r], ", ",
               b[r], ") != rank 0 (", a[0], ", ", b[0], ")");
  }
}

}  // namespace popo
