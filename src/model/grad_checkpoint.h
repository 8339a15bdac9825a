// Gradient checkpointing for libtorch C++, which has no torch.utils.checkpoint: a custom autograd
// function runs a block's forward without recording a graph (activations inside the block are
// freed at once) and re-runs it with grad enabled in backward to push the gradient through.
// Mirrors torch.utils.checkpoint(use_reentrant=True): gradients reach the block's parameters by
// accumulation into their .grad during the outer backward, so, as in PyTorch, the result is
// right for loss.backward() but not for torch::autograd::grad() asked for the parameters.
// With preserve_rng the recomputation replays the default generator of x's device from the state
// it had at the forward, so a block that draws random numbers (LoRA dropout) recomputes the same
// masks (torch.utils.checkpoint's preserve_rng_state). Not here: non-reentrant (saved-tensor
// hook) mode.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>

namespace popo {

// Returns fn(x), computed without storing the activations inside fn; backward recomputes fn(x)
// and backpropagates through the recomputation. x: any shape, floating; fn: a pure function of
// x and of captured tensors that do NOT require grad (for a decoder layer: cos, sin, bias) and
// of module parameters (which receive their gradients in .grad). When grad mode is off this is
// plain fn(x). Cost: one extra forward of fn per backward.
at::Tensor checkpoint_forward(const std::function<at::Tensor(const at::Tensor&)>& fn, const at::Tensor& x,
                              bool preserve_rng = false);

}  // namespace popo
