// ZeroOptimizer (see zero.h).
#include "train/zero.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/error.h"
#include "dist/dist.h"
#include "model/safetensors.h"

namespace popo {

namespace {

int64_t bytes_of(const at::Tensor& t) { return t.defined() ? t.numel() * int64_t(t.element_size()) : 0; }

}  // namespace

ZeroOptimizer::ZeroOptimizer(std::vector<at::Tensor> params, std::vector<bool> decay, size_t n_policy,
                             std::vector<at::Tensor> siamese, const OptimConfig& optim, int stage,
                             std::shared_ptr<Dist> dist, double bucket_mb)
    : params_(std::move(params)), siamese_(std::move(siamese)), stage_(stage), optim_(optim),
      dist_(std::move(dist)), bucket_mb_(bucket_mb) {
  POPO_CHECK(stage_ == 1 || stage_ == 2, "dist.zero_stage must be 0, 1 or 2, got ", stage_);
  POPO_CHECK(!params_.empty() && decay.size() == params_.size() && n_policy <= params_.size(),
             "ZeroOptimizer: ", params_.size(), " tensors, ", decay.size(), " decay flags, n_policy ", n_policy);
  POPO_CHECK(siamese_.empty() || siamese_.size() == n_policy, "ZeroOptimizer: ", siamese_.size(),
             " siamese tensors for ", n_policy, " policy tensors");
  world_ = dist_ ? dist_->world_size() : 1;
  rank_ = dist_ ? dist_->rank() : 0;
  for (size_t i = 0; i < params_.size(); ++i) {
    offsets_.push_back(total_);
    if (i == n_policy) policy_total_ = total_;
    if (i < siamese_.size()) {
      POPO_CHECK(siamese_[i].sizes() == params_[i].sizes(), "ZeroOptimizer: siamese tensor ", i, " has shape ",
                 siamese_[i].sizes(), ", the policy's ", params_[i].sizes());
    }
    total_ += params_[i].numel();
  }
  if (n_policy == params_.size()) policy_total_ = total_;
  slice_ = (total_ + world_ - 1) / world_;
  begin_ = int64_t(rank_) * slice_;
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat).device(params_[0].device());
  torch::NoGradGuard no_grad;
  master_ = gather_from(begin_, slice_, params_, /*grads=*/false, total_);
  exp_avg_ = torch::zeros({slice_}, f32);
  exp_avg_sq_ = torch::zeros({slice_}, f32);
  if (stage_ == 2) grad_ = torch::zeros({slice_}, f32);
  // The slice as runs of elements with and without weight decay (the padding: none).
  for (size_t i = 0; i < params_.size(); ++i) {
    const int64_t a = std::max(offsets_[i], begin_), b = std::min(offsets_[i] + params_[i].numel(), begin_ + slice_);
    if (a >= b) continue;
    if (!runs_.empty() && runs_.back().decay == decay[i] && runs_.back().end == a - begin_) {
      runs_.back().end = b - begin_;
    } else {
      runs_.push_back({a - begin_, b - begin_, decay[i]});
    }
  }
  if (!siamese_.empty()) siamese_master_ = gather_from(begin_, slice_, siamese_, false, policy_total_);
  // Stage 1: the whole accumulator, padded to W * S, and this rank's gradient slice is a view
  // of it (summed in place by finish_gradients, no copy).
  if (stage_ == 1) {
    accum_ = torch::zeros({int64_t(world_) * slice_}, f32);
    grad_ = accum_.narrow(0, begin_, slice_);
  }
}

int64_t ZeroOptimizer::bucket_elems() const {
  return std::max<int64_t>(1, int64_t(bucket_mb_ * 1024.0 * 1024.0 / 4.0 / double(world_)));
}

at::Tensor ZeroOptimizer::gather_from(int64_t g0, int64_t n, const std::vector<at::Tensor>& ts, bool grads,
                                      int64_t limit) const {
  at::Tensor out = torch::zeros({n}, torch::TensorOptions().dtype(torch::kFloat).device(params_[0].device()));
  const int64_t end = std::min(g0 + n, limit);
  if (end <= g0) return out;
  // The first tensor that ends after g0.
  size_t i = size_t(std::upper_bound(offsets_.begin(), offsets_.end(), g0) - offsets_.begin());
  i = i == 0 ? 0 : i - 1;
  for (; i < ts.size() && offsets_[i] < end; ++i) {
    const at::Tensor& t = grads ? ts[i].grad() : ts[i];
    const int64_t a = std::max(offsets_[i], g0), b = std::min(offsets_[i] + ts[i].numel(), end);
    if (a >= b || !t.defined()) continue;
    out.narrow(0, a - g0, b - a).copy_(t.detach().reshape({-1}).narrow(0, a - offsets_[i], b - a));
  }
  return out;
}

void ZeroOptimizer::scatter_to(const at::Tensor& src, int64_t g0, const std::vector<at::Tensor>& ts,
                               int64_t limit) const {
  const int64_t end = std::min(g0 + src.numel(), limit);
  if (end <= g0) return;
  size_t i = size_t(std::upper_bound(offsets_.begin(), offsets_.end(), g0) - offsets_.begin());
  i = i == 0 ? 0 : i - 1;
  for (; i < ts.size() && offsets_[i] < end; ++i) {
    const int64_t a = std::max(offsets_[i], g0), b = std::min(offsets_[i] + ts[i].numel(), end);
    if (a >= b) continue;
    at::Tensor flat = ts[i].detach().view({-1});  // parameters are contiguous
    flat.narrow(0, a - offsets_[i], b - a).copy_(src.narrow(0, a - g0, b - a));
  }
}

void ZeroOptimizer::all_gather_into(const at::Tensor& slice, const std::vector<at::Tensor>& ts, int64_t limit) const {
  torch::NoGradGuard no_grad;
  const int64_t chunk = bucket_elems();
  for (int64_t c0 = 0; c0 < slice_; c0 += chunk) {
    const int64_t len = std::min(chunk, slice_ - c0);
    at::Tensor part = slice.narrow(0, c0, len);
    at::Tensor all = torch::empty({int64_t(world_) * len}, part.options());
    if (dist_) {
      dist_->all_gather(part, all);
    } else {
      all.copy_(part);
    }
    for (int r = 0; r < world_; ++r) scatter_to(all.narrow(0, r * len, len), int64_t(r) * slice_ + c0, ts, limit);
  }
}

int64_t ZeroOptimizer::max_over_ranks(int64_t n) const {
  if (!dist_ || world_ == 1) return n;
  std::vector<at::Tensor> v;
  at::Tensor t = torch::zeros({world_}, torch::TensorOptions().dtype(torch::kDouble).device(dist_->device()));
  t[rank_] = double(n);
  v.push_back(t);
  dist_->all_reduce_sum(v);
  return int64_t(v[0].max().item<double>());
}

void ZeroOptimizer::accumulate() {
  torch::NoGradGuard no_grad;
  if (stage_ == 1) {
    for (size_t i = 0; i < params_.size(); ++i) {
      at::Tensor& g = params_[i].mutable_grad();
      if (!g.defined()) continue;
      accum_.narrow(0, offsets_[i], params_[i].numel()).add_(g.reshape({-1}));
      g.zero_();
    }
    return;
  }
  // Stage 2: chunk by chunk of the slice space, every rank's part of the chunk from .grad,
  // reduce-scattered; this rank keeps the sum of its own part.
  const int64_t chunk = bucket_elems();
  for (int64_t c0 = 0; c0 < slice_; c0 += chunk) {
    const int64_t len = std::min(chunk, slice_ - c0);
    at::Tensor in = torch::empty({int64_t(world_) * len}, grad_.options());
    for (int r = 0; r < world_; ++r)
      in.narrow(0, r * len, len).copy_(gather_from(int64_t(r) * slice_ + c0, len, params_, /*grads=*/true, total_));
    at::Tensor out = torch::empty({len}, grad_.options());
    if (dist_) {
      dist_->reduce_scatter_sum(in, out);
    } else {
      out.copy_(in);
    }
    grad_.narrow(0, c0, len).add_(out);
  }
  for (at::Tensor& p : params_)
    if (p.grad().defined()) p.mutable_grad().zero_();
}

void ZeroOptimizer::finish_gradients() {
  if (stage_ != 1) return;
  torch::NoGradGuard no_grad;
  if (dist_ && world_ > 1) {
    const int64_t chunk = std::max<int64_t>(1, int64_t(bucket_mb_ * 1024.0 * 1024.0 / 4.0));
    for (int64_t c0 = 0; c0 < total_; c0 += chunk) {
      std::vector<at::Tensor> v{accum_.narrow(0, c0, std::min(chunk, total_ - c0))};
      dist_->all_reduce_sum(v);
    }
  }
  // grad_ is this rank's part of accum_ (the padding past N stays 0).
}

std::pair<double, double> ZeroOptimizer::grad_norms() const {
  torch::NoGradGuard no_grad;
  const int64_t split = std::clamp<int64_t>(policy_total_ - begin_, 0, slice_);
  // Sums of squares in float64, in chunks of 1 Mi elements (no float64 copy of the slice).
  auto sum_sq = [&](int64_t a, int64_t b) {
    double acc = 0;
    for (int64_t c = a; c < b; c += int64_t(1) << 20)
      acc += grad_.narrow(0, c, std::min(int64_t(1) << 20, b - c)).to(torch::kDouble).pow(2).sum().item<double>();
    return acc;
  };
  std::vector<double> sq = {sum_sq(0, split), sum_sq(split, slice_)};
  if (dist_ && world_ > 1) {
    std::vector<at::Tensor> v{torch::tensor(sq, torch::kDouble).to(dist_->device())};
    dist_->all_reduce_sum(v);
    at::Tensor back = v[0].to(torch::kCPU);
    sq = {back[0].item<double>(), back[1].item<double>()};
  }
  return {std::sqrt(sq[0]), std::sqrt(sq[1])};
}

void ZeroOptimizer::scale_policy_grad(double c) {
  const int64_t split = std::clamp<int64_t>(policy_total_ - begin_, 0, slice_);
  if (split > 0) grad_.narrow(0, 0, split).mul_(c);
}

void ZeroOptimizer::zero_grad() {
  grad_.zero_();
  if (accum_.defined()) accum_.zero_();
  for (at::Tensor& p : params_)
    if (p.grad().defined()) p.mutable_grad().zero_();
}

void ZeroOptimizer::step(double lr) {
  torch::NoGradGuard no_grad;
  ++adam_steps_;
  // torch::optim::AdamW's update, elementwise: decoupled decay, moments, bias correction.
  const double b1 = optim_.adam_beta1, b2 = optim_.adam_beta2;
  const double bc1 = 1.0 - std::pow(b1, double(adam_steps_));
  const double bc2 = 1.0 - std::pow(b2, double(adam_steps_));
  // Run by run (decay or not), in chunks of 1 Mi elements, so the temporaries stay small.
  const int64_t chunk = int64_t(1) << 20;
  for (const Run& run : runs_) {
    for (int64_t c0 = run.begin; c0 < run.end; c0 += chunk) {
      const int64_t len = std::min(chunk, run.end - c0);
      at::Tensor p = master_.narrow(0, c0, len), g = grad_.narrow(0, c0, len);
      at::Tensor m = exp_avg_.narrow(0, c0, len), v = exp_avg_sq_.narrow(0, c0, len);
      if (run.decay && optim_.weight_decay != 0) p.mul_(1.0 - lr * optim_.weight_decay);  // decoupled decay
      m.mul_(b1).add_(g, 1.0 - b1);
      v.mul_(b2).addcmul_(g, g, 1.0 - b2);
      at::Tensor denom = (v.sqrt() / std::sqrt(bc2)).add_(optim_.adam_eps);
      p.addcdiv_(m, denom, -lr / bc1);
    }
  }
  zero_grad();
  all_gather_into(master_, params_, total_);
}

void ZeroOptimizer::siamese_ema(double tau) {
  if (siamese_.empty() || tau >= 1.0) return;
  torch::NoGradGuard no_grad;
  const int64_t split = std::clamp<int64_t>(policy_total_ - begin_, 0, slice_);
  if (split > 0) {
    at::Tensor xi = siamese_master_.narrow(0, 0, split);
    at::Tensor theta = master_.narrow(0, 0, split);
    if (tau == 0.0) {
      xi.copy_(theta);
    } else {
      xi.mul_(tau).add_(theta, 1.0 - tau);
    }
  }
  all_gather_into(siamese_master_, siamese_, policy_total_);
}

void ZeroOptimizer::write_state(const std::string& path) const {
  torch::NoGradGuard no_grad;
  std::unique_ptr<SafetensorsStreamWriter> out;
  if (!path.empty()) {
    std::vector<SafetensorsStreamWriter::Spec> specs = {{"master", torch::kFloat, {total_}},
                                                         {"exp_avg", torch::kFloat, {total_}},
                                                         {"exp_avg_sq", torch::kFloat, {total_}}};
    if (!siamese_.empty()) specs.push_back({"siamese_master", torch::kFloat, {policy_total_}});
    specs.push_back({"adam_steps", torch::kLong, {1}});
    out = std::make_unique<SafetensorsStreamWriter>(path, specs);
  }
  // Rank by rank, piece by piece: the owner broadcasts, the writer appends (global order).
  auto stream = [&](const at::Tensor& slice, int64_t limit) {
    const int64_t chunk = bucket_elems();
    for (int r = 0; r < world_; ++r) {
      const int64_t n = std::clamp<int64_t>(limit - int64_t(r) * slice_, 0, slice_);
      for (int64_t c0 = 0; c0 < n; c0 += chunk) {
        const int64_t len = std::min(chunk, n - c0);
        at::Tensor piece = r == rank_ ? slice.narrow(0, c0, len).clone() : torch::empty({len}, slice.options());
        if (dist_ && world_ > 1) {
          std::vector<at::Tensor> v{piece};
          dist_->broadcast(v, r);
        }
        if (out) out->append(piece);
      }
    }
  };
  stream(master_, total_);
  stream(exp_avg_, total_);
  stream(exp_avg_sq_, total_);
  if (!siamese_.empty()) stream(siamese_master_, policy_total_);
  if (out) {
    out->append(torch::tensor({adam_steps_}, torch::kLong));
    out->close();
  }
}

void ZeroOptimizer::load_state(const std::string& path) {
  torch::NoGradGuard no_grad;
  const SafetensorsFile f = SafetensorsFile::open(path);
  auto take = [&](const char* name, at::Tensor& slice, int64_t n) {
    POPO_CHECK(f.has(name), path, ": no '", name, "' (the sharded optimizer state of dist.zero_stage >= 1)");
    const SafetensorsEntry& e = f.entry(name);
    POPO_CHECK(e.dtype == "F32" && e.shape == std::vector<int64_t>{n}, path, ": '", name, "' is ", e.dtype, " of shape [",
               e.shape.empty() ? 0 : e.shape[0], "], expected F32 of [", n, "] (the trained tensors of this run)");
    slice.zero_();
    const int64_t k = std::clamp<int64_t>(n - begin_, 0, slice_);
    if (k > 0) slice.narrow(0, 0, k).copy_(f.read_range(name, begin_, k));
  };
  take("master", master_, total_);
  take("exp_avg", exp_avg_, total_);
  take("exp_avg_sq", exp_avg_sq_, total_);
  if (!siamese_.empty()) take("siamese_master", siamese_master_, policy_total_);
  POPO_CHECK(f.has("adam_steps"), path, ": no 'adam_steps'");
  adam_steps_ = f.read("adam_steps").to(torch::kLong).reshape({-1})[0].item<int64_t>();
}

int64_t ZeroOptimizer::master_bytes() const { return bytes_of(master_); }
int64_t ZeroOptimizer::optimizer_state_bytes() const { return bytes_of(exp_avg_) + bytes_of(exp_avg_sq_); }
int64_t ZeroOptimizer::grad_bytes() const { return accum_.defined() ? bytes_of(accum_) : bytes_of(grad_); }
int64_t ZeroOptimizer::siamese_master_bytes() const { return bytes_of(siamese_master_); }

}  // namespace popo
