// PredictorImpl: the MLP is one Sequential registered as "net" (net.0 Linear, net.1 LayerNorm,
// net.2 ReLU, ..., last Linear).
#include "rl/predictor.h"

#include <torch/torch.h>

#include "core/error.h"

namespace popo {

PredictorImpl::PredictorImpl(int64_t dim, int64_t hidden, int64_t layers)
    : dim_(dim), layers_(layers) {
  POPO_CHECK(dim >= 1 && hidden >= 1 && layers >= 0, "Predictor: need dim >= 1, hidden >= 1, ",
             "layers >= 0, got dim=", dim, " hidden=", hidden, " layers=", layers);
  if (layers == 0) return;  // identity: no parameters
  torch::nn::Sequential net;
  int64_t in = dim;
  for (int64_t i = 0; i + 1 < layers; ++i) {
    net->push_back(torch::nn::Linear(in, hidden));
    net->push_back(torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden})));
    net->push_back(torch::nn::ReLU());
    in = hidden;
  }
  net->push_back(torch::nn::Linear(in, dim));
  net_ = register_module("net", net);
  // Xavier-uniform weights and zero biases on every Linear (LayerNorm keeps 1 / 0).
  torch::NoGradGuard no_grad;
  for (auto& module : net_->modules(/*include_self=*/false)) {
    if (auto* linear = module->as<torch::nn::Linear>()) {
      torch::nn::init::xavier_uniform_(linear->weight);
      torch::nn::init::zeros_(linear->bias);
    }
  }
}

torch::Tensor PredictorImpl::forward(const torch::Tensor& features) {
  TORCH_CHECK(features.dim() == 2 && features.size(1) == dim_, "Predictor: features must be (n, ",
              dim_, "), got ", features.sizes());
  if (layers_ == 0) return features.to(torch::kFloat);  // (n, C) fp32
  // The predictor's own dtype: fp32 as built (a float64 copy serves the fixture test).
  torch::Tensor x = features.to(parameters()[0].scalar_type());  // (n, C)
  return net_->forward(x);  // (n, C)
}

}  // namespace popo
