// Learner: micro-batched forward/backward, gradient accumulation, AdamW step, siamese momentum.
// f_theta / f_xi are the mean of the final hidden states (after the final norm) at the positions
// of the response tokens; log-probs of response token t come from the hidden state one position
// earlier (the usual shift).
#include "train/learner.h"

#include <torch/torch.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <limits>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "model/lora.h"
#include "train/zero.h"
#include "rl/advantages.h"
#include "rl/token_logprobs.h"

namespace popo {
namespace {

// One micro-batch's slices of the rollout batch, on the model's device.
struct Rows {
  torch::Tensor ids;        // (m, P + R) int64 prompt then response
  torch::Tensor attention;  // (m, P + R) int64 1 = real token
  torch::Tensor targets;    // (m, R) int64 response ids
  torch::Tensor mask;       // (m, R) float32 response mask
};

Rows gather_rows(const RolloutBatch& b, const torch::Tensor& idx, const c10::Device& dev) {
  Rows r;
  torch::Tensor i = idx.to(b.prompt_ids.device());
  r.targets = b.response_ids.index_select(0, i).to(dev);                            // (m, R)
  r.mask = b.response_mask.index_select(0, i).to(dev, torch::kFloat);               // (m, R)
  r.ids = torch::cat({b.prompt_ids.index_select(0, i).to(dev), r.targets}, /*dim=*/1);
  r.attention = torch::cat({b.prompt_mask.index_select(0, i).to(dev, torch::kLong),
                            r.mask.to(torch::kLong)}, /*dim=*/1);                   // (m, P + R)
  return r;
}

// Returns the mean over response tokens of the final hidden states (m, C) float32.
torch::Tensor response_features(const torch::Tensor& hidden, int64_t prompt_len,
                                const torch::Tensor& mask) {
  const int64_t resp_len = mask.size(1);
  return masked_mean_pool(hidden.narrow(1, prompt_len, resp_len), mask);  // (m, C)
}

// Returns the hidden states that predict the response tokens: positions P-1 .. P+R-2.
torch::Tensor predicting_hidden(const torch::Tensor& hidden, int64_t prompt_len, int64_t resp_len) {
  return hidden.narrow(1, prompt_len - 1, resp_len);  // (m, R, C)
}

void check_batch(const RolloutBatch& b, const torch::Tensor& rewards, const torch::Tensor& coef) {
  const int64_t n = b.num_prompts * b.group_size;
  TORCH_CHECK(b.prompt_ids.dim() == 2 && b.prompt_ids.size(0) == n && b.prompt_ids.size(1) >= 1,
              "Learner: prompt_ids must be (N, P) with N = ", n, " and P >= 1, got ",
              b.prompt_ids.sizes());
  TORCH_CHECK(b.prompt_mask.sizes() == b.prompt_ids.sizes(), "Learner: prompt_mask must be ",
              b.prompt_ids.sizes(), ", got ", b.prompt_mask.sizes());
  TORCH_CHECK(b.response_ids.dim() == 2 && b.response_ids.size(0) == n &&
                  b.response_mask.sizes() == b.response_ids.sizes(),
              "Learner: response_ids / response_mask must be (N, R) with N = ", n, ", got ",
              b.response_ids.sizes(), " / ", b.response_mask.sizes());
  TORCH_CHECK(rewards.dim() == 1 && rewards.size(0) == n, "Learner: rewards must be (", n,
              "), got ", rewards.sizes());
  TORCH_CHECK(!coef.defined() || (coef.dim() == 1 && coef.size(0) == n),
              "Learner: coefficients must be (", n, "), got ", coef.sizes());
}

}  // namespace

Learner::Learner(CausalLM policy, Predictor predictor, const AlgoConfig& algo,
                 const OptimConfig& optim, const LearnerConfig& cfg, CausalLM siamese,
                 CausalLM reference)
    : policy_(std::move(policy)),
      siamese_(std::move(siamese)),
      reference_(std::move(reference)),
      predictor_(std::move(predictor)),
      algo_(algo),
      optim_(optim),
      cfg_(cfg),
      momentum_(algo.popo, std::max<int64_t>(optim.steps, 1)) {
  POPO_CHECK(!policy_.is_empty(), "Learner: no policy network");
  POPO_CHECK(!algo_.needs_siamese() || !siamese_.is_empty(), "Learner: algo.name=",
             algo_.name_text(), " (sim_coef ", algo_.popo.sim_coef, ", kl_every ",
             algo_.popo.kl_every, ", momentum_law ", enum_name(algo_.popo.momentum_law),
             ") needs a siamese network");
  POPO_CHECK(!algo_.needs_reference() || !reference_.is_empty(), "Learner: grpo.kl_coef = ",
             algo_.grpo.kl_coef, " > 0 needs a reference network");
  POPO_CHECK(!algo_.needs_predictor() || !predictor_.is_empty(),
             "Learner: popo.sim_coef > 0 needs a predictor");
  POPO_CHECK(cfg_.update.micro_batch_size >= 1, "config: trainer.micro_batch_size must be >= 1, got ",
             cfg_.update.micro_batch_size);
  POPO_CHECK(cfg_.update.logprob_chunk_tokens >= 1,
             "config: trainer.logprob_chunk_tokens must be >= 1, got ",
             cfg_.update.logprob_chunk_tokens);
  POPO_CHECK(optim_.warmup_ratio >= 0 && optim_.warmup_ratio <= 1,
             "config: trainer.warmup_ratio must be in [0, 1], got ", optim_.warmup_ratio);
  POPO_CHECK(optim_.steps >= 1, "config: trainer.steps must be >= 1, got ", optim_.steps);
  // LoRA: the policy trains its adapters only, so the siamese must carry adapters of the same
  // shapes (its EMA runs on them) over the shared frozen base.
  POPO_CHECK(siamese_.is_empty() || (policy_->lora == nullptr) == (siamese_->lora == nullptr),
             "Learner: the policy ", policy_->lora ? "has" : "has no", " LoRA adapters but the siamese network ",
             siamese_->lora ? "has" : "has none");
  if (!siamese_.is_empty()) siamese_->eval();
  if (!reference_.is_empty()) reference_->eval();

  // fp32 masters of bf16/fp16 parameters: an update of lr ~1e-6 times a unit Adam direction is
  // below half an ulp of most bf16 weights and would round away.
  POPO_CHECK(cfg_.zero_stage >= 0 && cfg_.zero_stage <= 2, "config: dist.zero_stage must be 0, 1 or 2, got ",
             cfg_.zero_stage);
  const bool sharded = cfg_.zero_stage >= 1;  // the masters live in shard_optimizer()'s slices
  for (const torch::Tensor& p : trainable_parameters()) {
    if (!sharded && (p.scalar_type() == torch::kBFloat16 || p.scalar_type() == torch::kHalf)) {
      opt_params_.push_back(p.detach().to(torch::kFloat).set_requires_grad(true));
      // The fp32 gradient accumulator of this parameter (accumulate_gradients adds every
      // micro-batch's bf16/fp16 gradient into it): allocated once, with the masters.
      opt_params_.back().mutable_grad() = torch::zeros_like(opt_params_.back());
      has_masters_ = true;
    } else {
      opt_params_.push_back(p);
    }
  }

  // fp32 masters of a bf16/fp16 siamese: the EMA step (1 - tau) (theta - xi) is far below
  // half an ulp of a bf16 weight and would round away (fixture case C).
  // popo.momentum = 1 with the fixed law freezes xi: no update, no masters needed.
  const bool frozen_siamese = algo_.popo.momentum_law == MomentumLaw::kFixed && algo_.popo.momentum >= 1.0;
  if (!siamese_.is_empty() && !frozen_siamese && !sharded) {
    for (const torch::Tensor& p : own_tensors(siamese_)) {
      if (p.scalar_type() != torch::kBFloat16 && p.scalar_type() != torch::kHalf) continue;
      siamese_masters_.clear();
      for (const torch::Tensor& q : own_tensors(siamese_))
        siamese_masters_.push_back(q.detach().to(torch::kFloat).clone());
      break;
    }
  }

  // AdamW with decay on the policy's matrices only (HF Trainer leaves biases and norm weights
  // undecayed) and on every predictor parameter (the POPO reference code decays them all).
  const size_t n_policy = own_tensors(policy_).size();
  std::vector<torch::Tensor> decay, no_decay;
  for (size_t i = 0; i < opt_params_.size(); ++i) {
    const torch::Tensor& p = opt_params_[i];
    (p.dim() >= 2 || i >= n_policy ? decay : no_decay).push_back(p);
  }
  auto options = [&](double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(optim_.lr)
            .betas({optim_.adam_beta1, optim_.adam_beta2})
            .eps(optim_.adam_eps)
            .weight_decay(wd));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (!decay.empty()) groups.emplace_back(decay, options(optim_.weight_decay));
  if (!no_decay.empty()) groups.emplace_back(no_decay, options(0.0));
  optimizer_ = std::make_unique<torch::optim::AdamW>(
      groups, torch::optim::AdamWOptions(optim_.lr).weight_decay(optim_.weight_decay));
}

std::vector<torch::Tensor> Learner::trainable_parameters() const {
  std::vector<torch::Tensor> params = own_tensors(policy_);
  if (!predictor_.is_empty())
    for (const torch::Tensor& p : predictor_->parameters()) params.push_back(p);
  return params;
}

void Learner::shard_optimizer(std::shared_ptr<Dist> dist, double bucket_mb) {
  POPO_CHECK(cfg_.zero_stage >= 1, "Learner::shard_optimizer: dist.zero_stage is 0");
  POPO_CHECK(zero_ == nullptr && steps_ == 0, "Learner::shard_optimizer: call it once, before the first step");
  const std::vector<torch::Tensor> params = trainable_parameters();
  const size_t n_policy = own_tensors(policy_).size();
  std::vector<bool> decay;
  for (size_t i = 0; i < params.size(); ++i) decay.push_back(params[i].dim() >= 2 || i >= n_policy);
  const bool frozen_siamese = algo_.popo.momentum_law == MomentumLaw::kFixed && algo_.popo.momentum >= 1.0;
  std::vector<torch::Tensor> siamese;
  if (!siamese_.is_empty() && !frozen_siamese && algo_.traits().popo_terms) siamese = own_tensors(siamese_);
  zero_ = std::make_shared<ZeroOptimizer>(params, decay, n_policy, siamese, optim_, cfg_.zero_stage,
                                          std::move(dist), bucket_mb);
}

std::vector<torch::Tensor> Learner::master_weights() const {
  std::vector<torch::Tensor> out, params = trainable_parameters();
  for (size_t i = 0; i < params.size(); ++i)
    if (!opt_params_[i].is_same(params[i])) out.push_back(opt_params_[i]);
  return out;
}

std::vector<torch::Tensor> Learner::siamese_mastered_parameters() const {
  if (siamese_masters_.empty()) return {};
  return own_tensors(siamese_);
}

std::vector<torch::Tensor> Learner::mastered_parameters() const {
  std::vector<torch::Tensor> out, params = trainable_parameters();
  for (size_t i = 0; i < params.size(); ++i)
    if (!opt_params_[i].is_same(params[i])) out.push_back(params[i]);
  return out;
}

double Learner::lr_at(int64_t k) const {
  const int64_t total = optim_.steps;
  const int64_t warmup = static_cast<int64_t>(std::ceil(optim_.warmup_ratio * double(total)));
  if (k < warmup) return optim_.lr * double(k) / double(std::max<int64_t>(warmup, 1));
  if (optim_.schedule == LrSchedule::kConstant) return optim_.lr;
  const double progress =
      std::min(1.0, double(k - warmup) / double(std::max<int64_t>(total - warmup, 1)));
  return optim_.lr * 0.5 * (1.0 + std::cos(M_PI * progress));
}

torch::Tensor Learner::lm_head_weight(CausalLM& model) const {
  if (model->config().tie_word_embeddings) return model->model->embed_tokens->weight;  // (V, C)
  return model->lm_head_->weight;                                                      // (V, C)
}

torch::Tensor Learner::forward_rows(const torch::Tensor& positive) const {
  if (algo_.forward_rows() == ForwardRows::kPositives)
    return torch::nonzero(positive).reshape({-1});                  // (n_pos)
  return torch::arange(positive.size(0), torch::kLong);             // (N)
}

torch::Tensor Learner::sequence_logps(const RolloutBatch& batch, const torch::Tensor& rows) {
  torch::NoGradGuard no_grad;
  const int64_t prompt_len = batch.prompt_ids.size(1), resp_len = batch.response_ids.size(1);
  const torch::Tensor all = rows.to(torch::kCPU, torch::kLong).reshape({-1});  // (k)
  torch::Tensor out = torch::zeros({all.size(0)});                            // (k)
  for (int64_t s = 0; s < all.size(0); s += cfg_.update.micro_batch_size) {
    const int64_t m = std::min(cfg_.update.micro_batch_size, all.size(0) - s);
    Rows r = gather_rows(batch, all.narrow(0, s, m), policy_->device());
    torch::Tensor hidden = policy_->forward_hidden(r.ids, r.attention);  // (m, P+R, C)
    TokenStats st = token_logprobs(predicting_hidden(hidden, prompt_len, resp_len),
                                   lm_head_weight(policy_), r.targets, cfg_.temperature,
                                   /*with_entropy=*/false, cfg_.update.logprob_chunk_tokens);
    out.narrow(0, s, m).copy_(sequence_mean_logp(st.logp, r.mask).to(torch::kCPU));
  }
  return out;
}

torch::Tensor Learner::coefficients(const RolloutBatch& batch, const torch::Tensor& rewards) {
  check_batch(batch, rewards, {});
  const int64_t n = rewards.size(0);
  torch::Tensor r = rewards.detach().to(torch::kCPU, torch::kFloat);  // (N)
  torch::Tensor seq_logp = torch::zeros({n});                         // (N) l(a), 0 on negatives
  if (algo_.traits().coef == Coefficient::kPopoWeights && algo_.popo.weights == PopoWeights::kSoftmax) {
    const torch::Tensor pos_idx = torch::nonzero(r > 0).reshape({-1});  // (n_pos)
    seq_logp.index_copy_(0, pos_idx, sequence_logps(batch, pos_idx));
  }
  return rollout_coefficients(algo_, r, batch.group_size, seq_logp);  // (N)
}

std::map<std::string, double> Learner::accumulate_gradients(const RolloutBatch& batch,
                                                            const torch::Tensor& rewards,
                                                            const torch::Tensor& coef_in) {
  check_batch(batch, rewards, coef_in);
  validate(algo_, batch.group_size);
  const c10::Device dev = policy_->device();
  const int64_t n = rewards.size(0);
  const int64_t prompt_len = batch.prompt_ids.size(1), resp_len = batch.response_ids.size(1);
  const int64_t feat_dim = policy_->config().hidden_size;
  const bool popo_path = algo_.positive_path();
  const bool use_sim = algo_.uses_similarity();
  const bool kl_step = algo_.traits().popo_terms && !siamese_.is_empty() &&
                       algo_.popo.kl_every > 0 && steps_ % algo_.popo.kl_every == 0;
  const bool use_ref = algo_.needs_reference();
  const bool behaviour_old = !popo_path && algo_.grpo.old_logp == OldLogp::kBehaviour;
  note_config_read({"algo.name", "popo.kl_every"});
  if (use_sim) note_config_read("popo.noise_std");
  if (!popo_path) note_config_read({"grpo.old_logp", "grpo.kl_coef", "grpo.loss_agg_max_len"});
  TORCH_CHECK(!behaviour_old || batch.logp.defined(),
              "Learner: grpo.old_logp=behaviour needs the batch's behaviour log-probs");

  torch::Tensor positive_cpu = rewards.detach().to(torch::kCPU) > 0;  // (N) bool
  torch::Tensor coef_cpu = coef_in.detach().to(torch::kCPU, torch::kFloat);
  torch::Tensor mask_cpu = batch.response_mask.detach().to(torch::kCPU, torch::kFloat);  // (N, R)
  torch::Tensor rows_all = forward_rows(positive_cpu);  // (n_fwd)

  // Step-global normalisers (losses.h): counted over the whole batch, never per micro-batch.
  StepNormalizers norm;
  norm.num_seqs = double(n);
  norm.num_tokens = mask_cpu.sum().item<double>();
  norm.num_pos_tokens = mask_cpu.index({positive_cpu}).sum().item<double>();
  norm.num_pos_seqs = positive_cpu.sum().item<double>();
  norm.sum_pos_weight = coef_cpu.index({positive_cpu}).sum().item<double>();
  norm.num_ent_tokens = (algo_.popo.entropy_on == EntropyScope::kPositives || rows_all.size(0) < n)
                            ? norm.num_pos_tokens
                            : norm.num_tokens;
  // Dr. GRPO's divisor is a constant of the run: grpo.loss_agg_max_len, else the response
  // budget sampling.max_new_tokens (never the longest response of the step).
  norm.max_len = double(algo_.grpo.loss_agg_max_len > 0 ? algo_.grpo.loss_agg_max_len
                                                          : cfg_.response_budget);
  POPO_CHECK(popo_path || algo_.grpo.loss_agg != LossAgg::kSeqMeanTokenSumNorm || norm.max_len > 0,
             "Learner: grpo.loss_agg=seq-mean-token-sum-norm needs grpo.loss_agg_max_len > 0 or "
             "the response budget sampling.max_new_tokens, got neither");
  if (reduce_normalizers) reduce_normalizers(norm);
  // POPO path: a step without a positive rollout (on any rank) has exactly zero loss, the entropy
  // term included, so no row is forwarded. The count is global, so every rank agrees and every
  // collective below still runs.
  if (popo_path && norm.num_pos_seqs <= 0) rows_all = rows_all.narrow(0, 0, 0);

  // The target noise eps ~ N(0, sigma^2 I) of every rollout, drawn once per step from a seeded
  // generator, so it does not depend on the micro-batch split.
  torch::Tensor noise;
  if (use_sim && algo_.popo.noise_std > 0) {
    at::Generator gen = at::detail::createCPUGenerator(cfg_.seed * 1000003ULL + uint64_t(steps_));
    const int64_t total = global_rows_ > 0 ? global_rows_ : n;
    TORCH_CHECK(row_offset_ >= 0 && row_offset_ + n <= total, "Learner: row shard [", row_offset_,
                ", ", row_offset_ + n, ") outside the step's ", total, " rows");
    noise = torch::randn({total, feat_dim}, gen, torch::kFloat).narrow(0, row_offset_, n) *
            algo_.popo.noise_std;  // (N, C) rows of this shard
  }

  // Gradients start at zero and are always defined (a step without work still all-reduces).
  for (torch::Tensor& p : trainable_parameters()) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    p.mutable_grad().zero_();
  }
  if (has_masters_)
    for (torch::Tensor& p : opt_params_) p.mutable_grad().zero_();

  std::map<std::string, double> metrics;
  double kl_sum = 0, kl_tokens = 0;
  const torch::Tensor w_head = lm_head_weight(policy_);
  // Stage 2 reduce-scatters after every backward: every rank runs as many rounds as the rank
  // with the most micro-batches (its extra rounds carry zero gradients).
  const int64_t micro_batches = (rows_all.size(0) + cfg_.update.micro_batch_size - 1) / cfg_.update.micro_batch_size;
  const int64_t rounds = zero_ && zero_->stage() == 2 ? zero_->max_over_ranks(micro_batches) : micro_batches;
  for (int64_t s = 0; s < rows_all.size(0); s += cfg_.update.micro_batch_size) {
    torch::Tensor idx = rows_all.narrow(0, s, std::min(cfg_.update.micro_batch_size, rows_all.size(0) - s));
    Rows rows = gather_rows(batch, idx, dev);
    torch::Tensor pos = positive_cpu.index_select(0, idx);                  // (m) bool
    torch::Tensor pos_local = torch::nonzero(pos).reshape({-1});             // (m_pos)

    // Online forward: per-token log-probs and entropies with grad.
    torch::Tensor hidden = policy_->forward_hidden(rows.ids, rows.attention);  // (m, P+R, C)
    TokenStats st = token_logprobs(predicting_hidden(hidden, prompt_len, resp_len), w_head,
                                   rows.targets, cfg_.temperature, /*with_entropy=*/true,
                                   cfg_.update.logprob_chunk_tokens);  // (m, R) each

    LossInputs in;
    in.logp = st.logp;
    in.entropy = st.entropy;
    in.mask = rows.mask;
    in.coef = coef_cpu.index_select(0, idx).to(dev);
    in.positive = pos.to(dev);
    if (behaviour_old) in.logp_old = batch.logp.index_select(0, idx.to(batch.logp.device())).to(dev, torch::kFloat);

    // Siamese forward (no grad): the positives for f_xi, every forwarded row on KL steps.
    if (use_sim || kl_step) {
      torch::NoGradGuard no_grad;
      const bool all_rows = kl_step;
      torch::Tensor sidx = all_rows ? torch::arange(idx.size(0), torch::kLong) : pos_local;
      if (sidx.size(0) > 0) {
        torch::Tensor sid = sidx.to(dev);
        torch::Tensor h_xi = siamese_->forward_hidden(rows.ids.index_select(0, sid),
                                                      rows.attention.index_select(0, sid));
        if (use_sim) {
          torch::Tensor f_xi = response_features(h_xi, prompt_len, rows.mask.index_select(0, sid));
          if (all_rows) f_xi = f_xi.index_select(0, pos_local.to(dev));  // (m_pos, C)
          if (noise.defined()) f_xi = f_xi + noise.index_select(0, idx.index_select(0, pos_local)).to(dev);
          in.target = f_xi;  // (m_pos, C) f_xi + eps
        }
        if (kl_step) {
          TokenStats sx = token_logprobs(predicting_hidden(h_xi, prompt_len, resp_len),
                                         lm_head_weight(siamese_), rows.targets, cfg_.temperature,
                                         /*with_entropy=*/false, cfg_.update.logprob_chunk_tokens);
          // k3 of KL(pi_theta || pi_xi) on tokens sampled from (approximately) pi_theta.
          torch::Tensor k3 = k3_per_token(st.logp.detach(), sx.logp) * rows.mask;  // (m, R)
          kl_sum += k3.sum().item<double>();
          kl_tokens += rows.mask.sum().item<double>();
        }
      } else if (use_sim) {
        in.target = torch::zeros({0, feat_dim}, torch::TensorOptions().device(dev));
      }
    }
    if (use_sim) {
      torch::Tensor f_theta = response_features(hidden.index_select(0, pos_local.to(dev)),
                                                prompt_len, rows.mask.index_select(0, pos_local.to(dev)));
      in.pred = predictor_->forward(f_theta);  // (m_pos, C) h_phi(f_theta)
    }
    if (use_ref) {
      torch::NoGradGuard no_grad;
      torch::Tensor h_ref = reference_->forward_hidden(rows.ids, rows.attention);
      in.logp_ref = token_logprobs(predicting_hidden(h_ref, prompt_len, resp_len),
                                   lm_head_weight(reference_), rows.targets, cfg_.temperature,
                                   /*with_entropy=*/false, cfg_.update.logprob_chunk_tokens).logp;
    }

    LossResult loss = compute_loss(algo_, in, norm);
    if (loss.loss.requires_grad()) loss.loss.backward();
    if (zero_) {
      zero_->accumulate();  // into the fp32 gradient (accumulator or slice)
    } else if (has_masters_) {
      accumulate_into_masters();
    }
    for (const auto& kv : loss.metrics) metrics[kv.first] += kv.second;
    if (!popo_path && norm.num_tokens > 0) {  // the PG losses do not read the entropy: log it here
      metrics["entropy"] += (st.entropy.detach() * rows.mask).sum().item<double>() / norm.num_tokens;
    }
  }
  if (zero_) {
    for (int64_t r = micro_batches; r < rounds; ++r) zero_->accumulate();
  }
  if (kl_step) {
    std::vector<double> kl{kl_sum, kl_tokens};
    if (reduce_scalars) reduce_scalars(kl);
    metrics["popo/kl_to_siamese"] = kl[1] > 0 ? kl[0] / kl[1] : 0.0;
  }
  metrics.emplace("loss", 0.0);  // a step without forwarded rows still reports a zero loss
  return metrics;
}

LearnerStep Learner::step(const RolloutBatch& batch, const torch::Tensor& rewards,
                          const torch::Tensor& coef) {
  if (zero_) return sharded_step(batch, rewards, coef);
  LearnerStep out;
  out.metrics = accumulate_gradients(batch, rewards, coef);
  if (reduce_metrics) reduce_metrics(out.metrics);
  std::vector<torch::Tensor> params = trainable_parameters();
  // The gradients are the optimizer tensors': a bf16/fp16 parameter's were accumulated in its
  // fp32 master (no bf16 sum, an fp32 wire), an fp32 parameter's in its own .grad.
  if (reduce_gradients) reduce_gradients(opt_params_);
  // Clip the policy's gradients only; the predictor's stay unclipped (the reference clips the
  // model's parameters), and their norm is logged apart.
  const double max_norm = max_grad_norm();
  const size_t n_policy = own_tensors(policy_).size();
  const std::vector<torch::Tensor> policy_opt(opt_params_.begin(), opt_params_.begin() + n_policy);
  const std::vector<torch::Tensor> predictor_opt(opt_params_.begin() + n_policy, opt_params_.end());
  const double grad_norm = torch::nn::utils::clip_grad_norm_(policy_opt, max_norm);
  if (!predictor_opt.empty()) {
    double sq = 0;
    for (const torch::Tensor& p : predictor_opt) sq += p.grad().to(torch::kDouble).pow(2).sum().item<double>();
    out.metrics["popo/predictor_grad_norm"] = std::sqrt(sq);
  }
  const double pred_norm = out.metrics.count("popo/predictor_grad_norm")
                               ? out.metrics["popo/predictor_grad_norm"] : 0.0;
  const double lr = record_step(out, rewards, batch.group_size, grad_norm, pred_norm);
  if (out.skipped) {
    for (torch::Tensor& p : params) p.mutable_grad().zero_();
    for (torch::Tensor& p : opt_params_) p.mutable_grad().zero_();
    return out;
  }
  for (auto& group : optimizer_->param_groups())
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  optimizer_->step();
  if (has_masters_) {  // the model's parameters become the rounded masters
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < params.size(); ++i) {
      if (opt_params_[i].is_same(params[i])) continue;
      params[i].copy_(opt_params_[i]);
    }
  }

  // Siamese momentum update xi <- tau xi + (1 - tau) theta after every optimizer step. theta is
  // the policy's optimizer tensors (its fp32 masters under mixed precision, not their roundings);
  // a bf16/fp16 siamese updates its fp32 masters and takes their roundings.
  if (algo_.traits().popo_terms && !siamese_.is_empty()) {
    const double tau = siamese_tau(out.metrics);
    if (!siamese_masters_.empty()) {
      ema_update_tensors(siamese_masters_, policy_opt, tau);
      torch::NoGradGuard no_grad;
      const std::vector<torch::Tensor> xi = own_tensors(siamese_);
      for (size_t i = 0; i < xi.size(); ++i) xi[i].copy_(siamese_masters_[i]);
    } else {
      ema_update_tensors(own_tensors(siamese_), policy_opt, tau);
    }
  }
  warn_low_entropy(out.metrics);
  ++steps_;
  return out;
}

Learner::StateBytes Learner::state_bytes() const {
  auto bytes = [](const std::vector<torch::Tensor>& ts) {
    double n = 0;
    for (const torch::Tensor& t : ts)
      if (t.defined()) n += double(t.numel()) * double(t.element_size());
    return n;
  };
  StateBytes b;
  std::vector<torch::Tensor> params = policy_->parameters(), grads;
  if (policy_->lora) for (const torch::Tensor& t : policy_->lora->tensors()) params.push_back(t);
  if (!predictor_.is_empty()) for (const torch::Tensor& t : predictor_->parameters()) params.push_back(t);
  b.param = bytes(params);
  for (const torch::Tensor& p : trainable_parameters()) grads.push_back(p.grad());
  const std::vector<torch::Tensor> masters = master_weights();
  for (const torch::Tensor& m : masters) grads.push_back(m.grad());
  b.grad = bytes(grads);
  b.master = bytes(masters);
  if (!siamese_.is_empty()) b.siamese = bytes(own_tensors(siamese_)) + bytes(siamese_masters_);
  if (zero_) {
    b.optimizer_state = double(zero_->optimizer_state_bytes());
    b.master += double(zero_->master_bytes());
    b.grad += double(zero_->grad_bytes());
    b.siamese += double(zero_->siamese_master_bytes());
  } else {
    for (const auto& item : optimizer_->state()) {
      const auto& st = static_cast<const torch::optim::AdamWParamState&>(*item.second);
      b.optimizer_state += bytes({st.exp_avg(), st.exp_avg_sq()});
    }
  }
  return b;
}

void Learner::accumulate_into_masters() {
  torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> params = trainable_parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    if (opt_params_[i].is_same(params[i])) continue;
    torch::Tensor& g = const_cast<torch::Tensor&>(params[i]).mutable_grad();
    opt_params_[i].mutable_grad().add_(g);  // fp32 += bf16 (promoted)
    g.zero_();
  }
}

double Learner::max_grad_norm() const {
  return optim_.grad_clip > 0 ? optim_.grad_clip : std::numeric_limits<double>::infinity();
}

double Learner::record_step(LearnerStep& out, const torch::Tensor& rewards, int64_t group_size, double grad_norm,
                            double pred_norm) {
  const double lr = lr_at(steps_);
  GroupStats gs = group_stats(rewards.detach().to(torch::kCPU), group_size);
  out.metrics["grad_norm"] = grad_norm;
  out.metrics["lr"] = lr;
  out.metrics["popo/positive_ratio"] = gs.positive_ratio;
  out.metrics["frac_zero_std_groups"] = gs.frac_zero_std;
  const double loss = out.metrics.count("loss") ? out.metrics["loss"] : 0.0;
  if (!std::isfinite(loss) || !std::isfinite(grad_norm) || !std::isfinite(pred_norm)) {
    LOG_WARN("step ", steps_, ": non-finite loss ", loss, " or grad norm ", grad_norm,
             "; update skipped");
    out.skipped = true;
  }
  return lr;
}

double Learner::siamese_tau(std::map<std::string, double>& metrics) {
  // The adaptive law skips step 0: xi_0 = theta_0, so KL(pi_theta || pi_xi) is 0 there by
  // construction and carries no information.
  if (steps_ > 0 && metrics.count("popo/kl_to_siamese")) momentum_.observe_kl(metrics["popo/kl_to_siamese"]);
  const double tau = momentum_.tau(steps_);
  metrics["popo/tau"] = tau;
  return tau;
}

void Learner::warn_low_entropy(std::map<std::string, double>& metrics) const {
  // Warned once per process: a low-entropy task would otherwise print it at every step and
  // bury the progress line (the metric itself is logged every step).
  static bool entropy_warned = false;
  if (metrics.count("entropy") && metrics["entropy"] < 0.5 && !entropy_warned) {
    entropy_warned = true;
    LOG_WARN("step ", steps_, ": mean entropy ", metrics["entropy"],
             " < 0.5 (possible entropy collapse; logged once, see `entropy` in metrics.jsonl)");
  }
}

LearnerStep Learner::sharded_step(const RolloutBatch& batch, const torch::Tensor& rewards,
                                  const torch::Tensor& coef) {
  // The step of dist.zero_stage >= 1 (train/zero.h): the same loss, gradient, clipping, AdamW
  // and EMA as step(), on this rank's slices of the fp32 state.
  LearnerStep out;
  out.metrics = accumulate_gradients(batch, rewards, coef);
  if (reduce_metrics) reduce_metrics(out.metrics);
  zero_->finish_gradients();
  const auto [grad_norm, pred_norm] = zero_->grad_norms();
  // clip_grad_norm_'s rule: scale by max_norm / (norm + 1e-6) when that is below 1.
  const double clip = max_grad_norm() / (grad_norm + 1e-6);
  if (clip < 1.0 && std::isfinite(grad_norm)) zero_->scale_policy_grad(clip);
  if (!predictor_.is_empty()) out.metrics["popo/predictor_grad_norm"] = pred_norm;
  const double lr = record_step(out, rewards, batch.group_size, grad_norm, pred_norm);
  if (out.skipped) {
    zero_->zero_grad();
    return out;
  }
  zero_->step(lr);
  if (algo_.traits().popo_terms && !siamese_.is_empty()) zero_->siamese_ema(siamese_tau(out.metrics));
  warn_low_entropy(out.metrics);
  ++steps_;
  return out;
}

}  // namespace popo
