// POPO's predictor h_phi (POPO.md, Loss 3): (Linear -> LayerNorm -> ReLU) x (layers - 1) ->
// Linear, mapping the online features f_theta (C) to the siamese space (C). Xavier-uniform
// weights, zero biases, always fp32 (inputs are cast). layers = 0 is the identity (cosine on the
// raw features, an ablation). Mirrors the BYOL-style predictor of the reference code.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace popo {

class PredictorImpl : public torch::nn::Module {
 public:
  // dim: feature width C (input and output); hidden: width of the inner layers; layers: number
  // of Linear layers (0 = identity, 1 = one Linear C -> C).
  PredictorImpl(int64_t dim, int64_t hidden, int64_t layers);
  // Returns h_phi(features) (n, C) in the predictor's dtype (float32 as built). features: (n, C)
  // any floating dtype.
  at::Tensor forward(const at::Tensor& features);
  // Returns the number of Linear layers (0 = identity).
  int64_t num_layers() const { return layers_; }

 private:
  int64_t dim_, layers_;
  torch::nn::Sequential net_{nullptr};
};
TORCH_MODULE(Predictor);

}  // namespace popo
