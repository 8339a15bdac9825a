// Overlong shaping, the dynamic-sampling filter and RolloutBatch surgery (rollout_filter.h).
#include "rl/rollout_filter.h"

#include <torch/torch.h>

#include <algorithm>

#include "core/error.h"

namespace popo {
namespace {

// Returns x (n, W) padded with zeros to width w on the left (left = true) or the right.
torch::Tensor pad_to(const torch::Tensor& x, int64_t w, bool left) {
  const int64_t extra = w - x.size(1);
  if (extra == 0) return x;
  torch::Tensor z = torch::zeros({x.size(0), extra}, x.options());  // (n, extra)
  return left ? torch::cat({z, x}, /*dim=*/1) : torch::cat({x, z}, /*dim=*/1);  // (n, w)
}

}  // namespace

double overlong_penalty(int64_t length, int64_t max_new_tokens, int64_t buffer, double factor) {
  POPO_CHECK(buffer >= 0 && buffer <= max_new_tokens, "grpo.overlong_buffer must be in [0, ",
             "sampling.max_new_tokens = ", max_new_tokens, "], got ", buffer);
  if (buffer == 0) return 0.0;
  const int64_t expected = max_new_tokens - buffer;  // Lmax - B: longest unpenalised length
  if (length <= expected) return 0.0;
  return double(expected - length) / double(buffer) * factor;  // in [-factor, 0)
}

std::vector<int64_t> mixed_groups(const std::vector<float>& correct, int64_t group_size) {
  POPO_CHECK(group_size >= 1 && correct.size() % size_t(group_size) == 0, "mixed_groups: ",
             correct.size(), " rollouts are not a multiple of the group size ", group_size);
  std::vector<int64_t> out;
  const int64_t groups = int64_t(correct.size()) / group_size;
  for (int64_t g = 0; g < groups; ++g) {
    const bool first = correct[size_t(g * group_size)] > 0;
    bool mixed = false;
    for (int64_t i = 1; i < group_size; ++i) mixed = mixed || (correct[size_t(g * group_size + i)] > 0) != first;
    if (mixed) out.push_back(g);
  }
  return out;
}

RolloutBatch select_groups(const RolloutBatch& b, const std::vector<int64_t>& groups) {
  const int64_t G = b.group_size;
  std::vector<int64_t> rows;
  for (int64_t g : groups) {
    POPO_CHECK(g >= 0 && g < b.num_prompts, "select_groups: group ", g, " outside [0, ",
               b.num_prompts, ")");
    for (int64_t i = 0; i < G; ++i) rows.push_back(g * G + i);
  }
  torch::Tensor idx = torch::tensor(rows, torch::kLong);  // (n)
  RolloutBatch out;
  out.num_prompts = int64_t(groups.size());
  out.group_size = G;
  auto take = [&](const torch::Tensor& t) {
    return t.defined() ? t.index_select(0, idx.to(t.device())) : t;
  };
  out.prompt_ids = take(b.prompt_ids);        // (n, P)
  out.prompt_mask = take(b.prompt_mask);      // (n, P)
  out.response_ids = take(b.response_ids);    // (n, R)
  out.response_mask = take(b.response_mask);  // (n, R)
  out.logp = take(b.logp);                    // (n, R)
  for (int64_t r : rows) {
    if (size_t(r) < b.finish.size()) out.finish.push_back(b.finish[size_t(r)]);
    if (size_t(r) < b.group.size()) out.group.push_back(b.group[size_t(r)]);
  }
  out.warnings = b.warnings;
  return out;
}

RolloutBatch concat_rollouts(const std::vector<RolloutBatch>& parts) {
  RolloutBatch out;
  int64_t P = 1, R = 1;
  std::vector<const RolloutBatch*> used;
  for (const RolloutBatch& b : parts) {
    if (b.num_prompts == 0) continue;
    POPO_CHECK(used.empty() || b.group_size == used[0]->group_size, "concat_rollouts: group sizes ",
               used[0]->group_size, " and ", b.group_size, " differ");
    used.push_back(&b);
    P = std::max(P, b.prompt_ids.size(1));
    R = std::max(R, b.response_ids.size(1));
  }
  if (used.empty()) {
    out.group_size = parts.empty() ? 1 : parts[0].group_size;
    out.prompt_ids = torch::zeros({0, 1}, torch::kLong);
    out.prompt_mask = torch::zeros({0, 1}, torch::kLong);
    out.response_ids = torch::zeros({0, 1}, torch::kLong);
    out.response_mask = torch::zeros({0, 1}, torch::kFloat);
    out.logp = torch::zeros({0, 1}, torch::kFloat);
    return out;
  }
  out.group_size = used[0]->group_size;
  std::vector<torch::Tensor> pi, pm, ri, rm, lp;
  bool all_logp = true;
  for (const RolloutBatch* b : used) {
    out.num_prompts += b->num_prompts;
    pi.push_back(pad_to(b->prompt_ids, P, /*left=*/true));
    pm.push_back(pad_to(b->prompt_mask, P, /*left=*/true));
    ri.push_back(pad_to(b->response_ids, R, /*left=*/false));
    rm.push_back(pad_to(b->response_mask, R, /*left=*/false));
    all_logp = all_logp && b->logp.defined();
    if (b->logp.defined()) lp.push_back(pad_to(b->logp, R, /*left=*/false));
    out.finish.insert(out.finish.end(), b->finish.begin(), b->finish.end());
    out.group.insert(out.group.end(), b->group.begin(), b->group.end());
    out.warnings.insert(out.warnings.end(), b->warnings.begin(), b->warnings.end());
    out.prefill_seconds += b->prefill_seconds;
    out.decode_seconds += b->decode_seconds;
    out.decode_steps += b->decode_steps;
  }
  out.prompt_ids = torch::cat(pi, /*dim=*/0);     // (N, P)
  out.prompt_mask = torch::cat(pm, /*dim=*/0);    // (N, P)
  out.response_ids = torch::cat(ri, /*dim=*/0);   // (N, R)
  out.response_mask = torch::cat(rm, /*dim=*/0);  // (N, R)
  if (all_logp) out.logp = torch::cat(lp, /*dim=*/0);  // (N, R)
  return out;
}

int64_t mask_truncated(RolloutBatch* b) {
  POPO_CHECK(b->finish.size() == size_t(b->size()), "mask_truncated: ", b->finish.size(),
             " finish reasons for ", b->size(), " rollouts");
  int64_t n = 0;
  for (size_t i = 0; i < b->finish.size(); ++i) {
    if (b->finish[i] != FinishReason::kLength) continue;
    b->response_mask[int64_t(i)].zero_();
    ++n;
  }
  return n;
}

}  // namespace popo
