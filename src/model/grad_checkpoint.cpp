// Gradient checkpointing as a custom autograd function (see grad_checkpoint.h).
#include "model/grad_checkpoint.h"

#include <torch/torch.h>

#include <memory>

namespace popo {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Carries the block's closure through AutogradContext::saved_data (an IValue map).
struct BlockHolder : torch::CustomClassHolder {
  std::function<at::Tensor(const at::Tensor&)> fn;
  bool preserve_rng = false;
  at::Tensor rng_state;  // the device generator's state at the forward (preserve_rng)
};

class CheckpointFunction : public torch::autograd::Function<CheckpointFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const c10::intrusive_ptr<torch::CustomClassHolder>& block) {
    ctx->save_for_backward({x});
    ctx->saved_data["block"] = c10::IValue::make_capsule(block);
    auto* holder = static_cast<BlockHolder*>(block.get());
    if (holder->preserve_rng) holder->rng_state = at::globalContext().defaultGenerator(x.device()).get_state();
    // Inside forward() autograd is already off: fn's intermediate tensors are not kept.
    return holder->fn(x);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto x = ctx->get_saved_variables()[0];
    auto capsule = ctx->saved_data["block"].toCapsule();
    auto* holder = static_cast<BlockHolder*>(capsule.get());
    auto& fn = holder->fn;
    // Recompute with a graph rooted at a fresh leaf copy of the input (python:
    // x_ = x.detach().requires_grad_(); y = fn(x_); torch.autograd.backward(y, grad_y)).
    torch::Tensor x_leaf = x.detach().requires_grad_(true);
    torch::Tensor y;
    {
      torch::AutoGradMode enable(/*enabled=*/true);
      if (holder->preserve_rng) {  // replay the forward's random draws, then restore the stream
        at::Generator gen = at::globalContext().defaultGenerator(x.device());
        const at::Tensor now = gen.get_state();
        gen.set_state(holder->rng_state);
        y = fn(x_leaf);
        gen.set_state(now);
      } else {
        y = fn(x_leaf);
      }
    }
    // Reentrant backward: accumulates into the parameters' .grad and into x_leaf.grad().
    torch::autograd::backward({y}, {grads[0]});
    torch::Tensor gx = x_leaf.grad();
    if (!gx.defined()) gx = torch::zeros_like(x);
    return {gx, torch::Tensor()};
  }
};

}  // namespace

at::Tensor checkpoint_forward(const std::function<at::Tensor(const at::Tensor&)>& fn, const at::Tensor& x,
                              bool preserve_rng) {
  if (!torch::GradMode::is_enabled()) return fn(x);
  auto holder = c10::make_intrusive<BlockHolder>();
  holder->fn = fn;
  holder->preserve_rng = preserve_rng;
  // The function's output requires grad only if an input does; a block whose input needs no
  // gradient (frozen embeddings) still has trainable parameters, so give it a leaf that does.
  // Nothing upstream of x needs a gradient in that case, so detaching loses nothing.
  at::Tensor input = x.requires_grad() ? x : x.detach().requires_grad_(true);
  return CheckpointFunction::apply(input, c10::intrusive_ptr<torch::CustomClassHolder>(holder));
}

}  // namespace popo
