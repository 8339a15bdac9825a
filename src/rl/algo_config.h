// The RL algorithms (POPO, GRPO with its Dr. GRPO / DAPO variants, PSR, NSR, W-REINFORCE, RAFT,
// RLOO) as one `Algorithm` value with its traits, and their options as plain structs whose modes
// are enums. Field names are the config keys of ../shared/docs/POPO.md (`popo.sim_coef`,
// `grpo.loss_agg`, `algo.name`...); each struct lists its fields once in visit_fields() and the
// config loader walks that table, so a name is parsed once, at config load, and the code below
// switches on enums. Torch-free on purpose.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace popo {

// algo.name.
enum class Algorithm : int { kPopo, kGrpo, kPsr, kNsr, kWReinforce, kRaft, kRloo };
const std::vector<const char*>& enum_names(Algorithm);

// The two loss paths every algorithm is one of (losses.h).
enum class LossPath {
  kPolicyGradient,  // clipped surrogate x advantage per token (grpo, rloo, psr, nsr, w_reinforce)
  kPositiveNll,     // weighted NLL on the positives (+ POPO's similarity and entropy terms)
};

// What the per-rollout coefficient is (advantages.h).
enum class Coefficient {
  kPopoWeights,        // softmax (or uniform) weights over each group's positives
  kGroupAdvantage,     // (r - mean) / (std + eps), or r - mean (Dr. GRPO)
  kLeaveOneOut,        // r - mean of the other G - 1 rewards (RLOO)
  kPositiveReinforce,  // +1 on positives, 0 on negatives (PSR)
  kNegativeReinforce,  // -1 on negatives, 0 on positives (NSR)
  kWeightedReinforce,  // lambda on positives, -1 on negatives (W-REINFORCE)
  kUniformPositives,   // 1/|S+| on each group's positives (RAFT)
};

// What an algorithm is, beyond its options.
struct AlgorithmTraits {
  Algorithm id;
  const char* name;       // algo.name spelling
  LossPath loss;
  Coefficient coef;
  bool compares_group;    // the coefficient compares the rollouts of a prompt: needs G >= 2
  bool popo_terms;        // POPO's similarity term, entropy bonus and siamese network apply
};

// Returns the traits of a.
const AlgorithmTraits& traits(Algorithm a);

// popo.weights.
enum class PopoWeights : int { kSoftmax, kUniform };
const std::vector<const char*>& enum_names(PopoWeights);
// popo.entropy_on: the tokens of the entropy bonus.
enum class EntropyScope : int { kAll, kPositives };
const std::vector<const char*>& enum_names(EntropyScope);
// popo.momentum_law: tau over training (momentum.h).
enum class MomentumLaw : int { kFixed, kCosine, kAdaptive };
const std::vector<const char*>& enum_names(MomentumLaw);
// grpo.scale_rewards.
enum class RewardScale : int { kGroup, kNone };
const std::vector<const char*>& enum_names(RewardScale);
// grpo.loss_agg (losses.h has the formulas).
enum class LossAgg : int { kSeqMeanTokenMean, kTokenMean, kSeqMeanTokenSumNorm };
const std::vector<const char*>& enum_names(LossAgg);
// grpo.old_logp.
enum class OldLogp : int { kDetached, kBehaviour };
const std::vector<const char*>& enum_names(OldLogp);

// Section `popo`: POPO (POPO.md). Defaults reproduce the paper's reference code.
struct PopoConfig {
  PopoWeights weights = PopoWeights::kSoftmax;  // softmax (default) | uniform (ablation: 1/|S+|)
  double weight_temperature = 1.0;    // T_w of softmax(l(a)/T_w); default 1; > 0
  double sim_coef = 0.1;              // alpha of L_sim; default 0.1; 0 disables (no siamese forward)
  double noise_std = 0.02;            // sigma of the target noise eps; default 0.02; 0 disables
  int64_t predictor_hidden = 1024;    // hidden width of h_phi; default 1024
  int64_t predictor_layers = 2;       // Linear count of h_phi; default 2; 0 = identity (raw cosine)
  double entropy_coef = 0.01;         // beta of L_ent; default 0.01; 0 disables
  EntropyScope entropy_on = EntropyScope::kAll;  // extension: all (default) | positives
  double momentum = 0.995;            // tau of xi <- tau xi + (1-tau) theta; default 0.995; 1 freezes xi
  MomentumLaw momentum_law = MomentumLaw::kFixed;  // extension: fixed (default) | cosine | adaptive
  double momentum_target_kl = 1e-3;   // adaptive: target KL(pi_theta||pi_xi); default 1e-3
  double momentum_adapt_factor = 2.0;  // adaptive: (1-tau) is divided/multiplied by this; default 2; 1 = fixed
  double momentum_min = 0.9;          // adaptive: lower clamp of tau; default 0.9
  double momentum_max = 0.9999;       // adaptive: upper clamp of tau; default 0.9999
  int64_t kl_every = 10;              // measure popo/kl_to_siamese (and popo/neg_logp_delta) every
                                      // N steps; default 10; 0 never
  int64_t neg_logp_rollouts = 64;     // negative rollouts of popo/neg_logp_delta, measured every
                                      // kl_every steps for any algorithm; 0 = off

  template <class V>
  void visit_fields(V& v) {
    v("weights", weights, "importance weights over the positive set: softmax | uniform");
    v("weight_temperature", weight_temperature, "T_w of the softmax weights (default 1)");
    v("sim_coef", sim_coef, "alpha, weight of the siamese similarity loss (default 0.1; 0 off)");
    v("noise_std", noise_std, "sigma of the Gaussian noise on the siamese target (0.02; 0 off)");
    v("predictor_hidden", predictor_hidden, "hidden width of the predictor MLP (default 1024)");
    v("predictor_layers", predictor_layers, "Linear layers of the predictor (2; 0 = identity)");
    v("entropy_coef", entropy_coef, "beta, weight of the entropy bonus (default 0.01; 0 off)");
    v("entropy_on", entropy_on, "tokens of the entropy bonus: all | positives");
    v("momentum", momentum, "tau of the siamese EMA (default 0.995; 1 freezes the siamese)");
    v("momentum_law", momentum_law, "tau over training: fixed | cosine | adaptive");
    v("momentum_target_kl", momentum_target_kl, "adaptive law: target KL(pi_theta||pi_xi)");
    v("momentum_adapt_factor", momentum_adapt_factor, "adaptive law: factor on (1 - tau) (2)");
    v("momentum_min", momentum_min, "adaptive law: lower clamp of tau (default 0.9)");
    v("momentum_max", momentum_max, "adaptive law: upper clamp of tau (default 0.9999)");
    v("kl_every", kl_every, "measure popo/kl_to_siamese and popo/neg_logp_delta every N steps (default 10; 0 never)");
    v("neg_logp_rollouts", neg_logp_rollouts, "negative rollouts whose log-prob change popo/neg_logp_delta measures every kl_every steps (64; 0 off)");
  }
};

// Section `grpo`: the policy-gradient path shared by GRPO, RLOO, PSR, NSR and W-REINFORCE.
struct GrpoConfig {
  double eps = 1e-4;                    // std epsilon of A = (r - mean)/(std + eps); 1e-4 TRL, 1e-6 verl
  RewardScale scale_rewards = RewardScale::kGroup;  // group (divide by the group std) | none (Dr. GRPO)
  double clip_low = 0.2;                // epsilon_low of clip(rho, 1 - eps_low, 1 + eps_high); default 0.2
  double clip_high = 0.2;               // epsilon_high; default 0.2; DAPO clip-higher uses 0.28
  double kl_coef = 0.0;                 // beta of the k3 KL to the frozen reference; default 0 (off,
                                        // no reference forward); the reference GRPO run uses 0.01
  LossAgg loss_agg = LossAgg::kSeqMeanTokenMean;  // | token-mean (DAPO) | seq-mean-token-sum-norm (Dr. GRPO)
  int64_t loss_agg_max_len = 0;         // constant divisor of seq-mean-token-sum-norm; 0 = the
                                        // response budget sampling.max_new_tokens (a constant,
                                        // never the longest response of the step)
  OldLogp old_logp = OldLogp::kDetached;  // logp_old of rho: detached (the learner's own log-probs,
                                        // rho == 1 in value, as TRL with one iteration) | behaviour
                                        // (the sampler's log-probs)
  bool dynamic_sampling = false;        // DAPO: drop groups whose verdicts are all equal and sample
                                        // more prompts to refill the step; default off
  int64_t dynamic_sampling_max_rounds = 4;  // most sampling rounds per step (1 = filter only); default 4
  int64_t overlong_buffer = 0;          // DAPO overlong shaping: the last B tokens of the budget
                                        // are penalised linearly; 0 disables
  double overlong_penalty = 1.0;        // penalty at the full budget (DAPO's factor 1.0)
  bool overlong_filter = false;         // DAPO: truncated responses get no token in the loss

  template <class V>
  void visit_fields(V& v) {
    v("eps", eps, "epsilon added to the group std (1e-4 as TRL, 1e-6 as verl)");
    v("scale_rewards", scale_rewards, "advantage scaling: group (divide by std) | none (Dr. GRPO)");
    v("clip_low", clip_low, "epsilon_low of the ratio clip (default 0.2)");
    v("clip_high", clip_high, "epsilon_high of the ratio clip (default 0.2; DAPO 0.28)");
    v("kl_coef", kl_coef, "beta of the k3 KL to the frozen reference (default 0 = off)");
    v("loss_agg", loss_agg, "seq-mean-token-mean | token-mean | seq-mean-token-sum-norm");
    v("loss_agg_max_len", loss_agg_max_len, "divisor of seq-mean-token-sum-norm (0 = sampling.max_new_tokens)");
    v("old_logp", old_logp, "logp_old of the ratio: detached | behaviour");
    v("dynamic_sampling", dynamic_sampling, "drop groups with all-equal rewards and refill (DAPO)");
    v("dynamic_sampling_max_rounds", dynamic_sampling_max_rounds, "sampling rounds to refill (4)");
    v("overlong_buffer", overlong_buffer, "DAPO overlong shaping over the last N budget tokens (0 = off)");
    v("overlong_penalty", overlong_penalty, "overlong shaping: penalty at the full budget (1.0)");
    v("overlong_filter", overlong_filter, "drop truncated responses from the loss (DAPO; false)");
  }
};

// Which rollouts of a step the policy forwards in the update.
enum class ForwardRows {
  kAll,        // every rollout (the PG path; POPO with the entropy bonus over all tokens)
  kPositives,  // the positives only: nothing else is read (RAFT, POPO with entropy_on=positives)
};

// Section `algo`: which algorithm; the `popo` and `grpo` sections are top-level config sections
// (POPO.md names keys popo.* and grpo.*), held here so that one value carries all of it.
struct AlgoConfig {
  Algorithm name = Algorithm::kPopo;  // popo | grpo | psr | nsr | w_reinforce | raft | rloo
  double w_reinforce_lambda = 0.1;   // W-REINFORCE: advantage of positives (negatives get -1); 0.1 as Zhu et al.
  PopoConfig popo;                   // section `popo`
  GrpoConfig grpo;                   // section `grpo`

  template <class V>
  void visit_fields(V& v) {
    v("name", name, "algorithm: popo | grpo | psr | nsr | w_reinforce | raft | rloo");
    v("w_reinforce_lambda", w_reinforce_lambda, "W-REINFORCE weight of positives (default 0.1)");
  }

  const AlgorithmTraits& traits() const { return popo::traits(name); }
  const char* name_text() const { return traits().name; }
  bool positive_path() const { return traits().loss == LossPath::kPositiveNll; }
  // POPO's similarity term is on (popo with sim_coef > 0): siamese forward, predictor, noise.
  bool uses_similarity() const { return traits().popo_terms && popo.sim_coef > 0; }
  // POPO's entropy bonus is on (popo with entropy_coef > 0).
  bool uses_entropy() const { return traits().popo_terms && popo.entropy_coef > 0; }
  // A siamese network is kept (popo with the similarity term, KL measurement or adaptive law).
  bool needs_siamese() const {
    return traits().popo_terms &&
           (popo.sim_coef > 0 || popo.kl_every > 0 || popo.momentum_law == MomentumLaw::kAdaptive);
  }
  // A frozen reference network is kept (the PG path with grpo.kl_coef > 0).
  bool needs_reference() const { return !positive_path() && grpo.kl_coef > 0; }
  // The predictor h_phi is trained (the similarity term is on).
  bool needs_predictor() const { return uses_similarity(); }
  // The rows the update forwards.
  ForwardRows forward_rows() const {
    if (!positive_path()) return ForwardRows::kAll;
    return uses_entropy() && popo.entropy_on == EntropyScope::kAll ? ForwardRows::kAll
                                                                   : ForwardRows::kPositives;
  }
  // Returns the POPO options the positive-path loss applies: popo's own; for RAFT uniform
  // weights with alpha = beta = 0 (a weighted NLL on positives, POPO.md).
  PopoConfig loss_popo() const {
    PopoConfig p = popo;
    if (!traits().popo_terms) {
      p.weights = PopoWeights::kUniform;
      p.sim_coef = 0;
      p.entropy_coef = 0;
    }
    return p;
  }
};

// Checks every field; group_size is the rollouts per prompt (G). Throws popo::Error naming the
// key, the expected values and the value got (e.g. G < 2 with grpo or rloo).
void validate(const AlgoConfig& cfg, int64_t group_size);

}  // namespace popo
