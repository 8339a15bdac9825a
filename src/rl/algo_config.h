// Options of the RL algorithms (POPO, GRPO with its Dr. GRPO / DAPO variants, PSR, NSR,
// W-REINFORCE, RAFT, RLOO) as plain structs. Field names are the config keys of
// ../shared/docs/POPO.md (`popo.sim_coef`, `grpo.loss_agg`, `algo.name`...). No parsing here:
// each struct lists its fields once in visit_fields(); the config loader walks that table.
// Torch-free on purpose.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace popo {

// Section `popo`: POPO (POPO.md). Defaults reproduce the paper's reference code.
struct PopoConfig {
  std::string weights = "softmax";    // softmax (default) | uniform (ablation: 1/|S+|)
  double weight_temperature = 1.0;    // T_w of softmax(l(a)/T_w); default 1; > 0
  double sim_coef = 0.1;              // alpha of L_sim; default 0.1; 0 disables (no siamese forward)
  double noise_std = 0.02;            // sigma of the target noise eps; default 0.02; 0 disables
  int64_t predictor_hidden = 1024;    // hidden width of h_phi; default 1024
  int64_t predictor_layers = 2;       // Linear count of h_phi; default 2; 0 = identity (raw cosine)
  double entropy_coef = 0.01;         // beta of L_ent; default 0.01; 0 disables
  std::string entropy_on = "all";     // extension: all (default) | positives (update reads positives only)
  double momentum = 0.995;            // tau of xi <- tau xi + (1-tau) theta; default 0.995; 1 freezes xi
  std::string momentum_law = "fixed";  // extension: fixed (default) | cosine | adaptive
  double momentum_target_kl = 1e-3;   // adaptive: target KL(pi_theta||pi_xi); default 1e-3
  double momentum_adapt_factor = 2.0;  // adaptive: (1-tau) is divided/multiplied by this; default 2; 1 = fixed
  double momentum_min = 0.9;          // adaptive: lower clamp of tau; default 0.9
  double momentum_max = 0.9999;       // adaptive: upper clamp of tau; default 0.9999
  int64_t kl_every = 10;              // measure popo/kl_to_siamese every N steps; default 10; 0 never

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
    v("kl_every", kl_every, "measure popo/kl_to_siamese every N steps (default 10; 0 never)");
  }
};

// Section `grpo`: the policy-gradient path shared by GRPO, RLOO, PSR, NSR and W-REINFORCE.
struct GrpoConfig {
  double eps = 1e-4;                    // std epsilon of A = (r - mean)/(std + eps); 1e-4 TRL, 1e-6 verl
  std::string scale_rewards = "group";  // group (divide by the group std) | none (Dr. GRPO: r - mean)
  double clip_low = 0.2;                // epsilon_low of clip(rho, 1 - eps_low, 1 + eps_high); default 0.2
  double clip_high = 0.2;               // epsilon_high; default 0.2; DAPO clip-higher uses 0.28
  double kl_coef = 0.0;                 // beta of the k3 KL to the frozen reference; default 0 (off,
                                        // no reference forward); the reference GRPO run uses 0.01
  std::string loss_agg = "seq-mean-token-mean";  // | token-mean (DAPO) | seq-mean-token-sum-norm (Dr. GRPO)
  int64_t loss_agg_max_len = 0;         // constant divisor of seq-mean-token-sum-norm; 0 = the
                                        // response budget sampling.max_new_tokens (a constant,
                                        // never the longest response of the step)
  std::string old_logp = "detached";    // logp_old of rho: detached (the learner's own log-probs,
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

// Section `algo`: which algorithm; the `popo` and `grpo` sections are top-level config sections
// (POPO.md names keys popo.* and grpo.*), held here so that one value carries all of it.
struct AlgoConfig {
  std::string name = "popo";         // popo | grpo | psr | nsr | w_reinforce | raft | rloo
  double w_reinforce_lambda = 0.1;   // W-REINFORCE: advantage of positives (negatives get -1); 0.1 as Zhu et al.
  PopoConfig popo;                   // section `popo`
  GrpoConfig grpo;                   // section `grpo`

  template <class V>
  void visit_fields(V& v) {
    v("name", name, "algorithm: popo | grpo | psr | nsr | w_reinforce | raft | rloo");
    v("w_reinforce_lambda", w_reinforce_lambda, "W-REINFORCE weight of positives (default 0.1)");
  }
};

// Returns the algorithm names accepted by algo.name.
const std::vector<std::string>& known_algorithms();
// Returns true if the algorithm uses the POPO loss path (popo, raft): weighted NLL on positives.
bool uses_popo_path(const std::string& algo_name);
// Returns true if the algorithm needs a siamese network (popo with sim_coef > 0 or kl_every > 0).
bool needs_siamese(const AlgoConfig& cfg);
// Returns true if the algorithm needs a frozen reference network (PG path with kl_coef > 0).
bool needs_reference(const AlgoConfig& cfg);

// Checks every field; group_size is the rollouts per prompt (G). Throws popo::Error naming the
// key, the expected values and the value got (e.g. unknown algo.name lists the known names;
// G < 2 with grpo or rloo).
void validate(const AlgoConfig& cfg, int64_t group_size);

}  // namespace popo
