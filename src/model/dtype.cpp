#include "model/dtype.h"

#include <torch/cuda.h>

#include <sstream>

#include "core/error.h"

namespace popo {

c10::ScalarType parse_dtype(const std::string& name) {
  if (name == "float32" || name == "fp32" || name == "torch.float32" || name == "F32") return c10::kFloat;
  if (name == "bfloat16" || name == "bf16" || name == "torch.bfloat16" || name == "BF16") return c10::kBFloat16;
  if (name == "float16" || name == "fp16" || name == "torch.float16" || name == "F16") return c10::kHalf;
  POPO_FAIL("dtype '", name, "' is not supported; expected one of float32, bfloat16, float16");
}

std::string dtype_name(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::kFloat: return "float32";
    case c10::kBFloat16: return "bfloat16";
    case c10::kHalf: return "float16";
    case c10::kDouble: return "float64";
    default: return c10::toString(dtype);
  }
}

c10::Device parse_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  if (name == "cpu") return c10::Device(c10::kCPU);
  if (name.rfind("cuda", 0) == 0) {
    POPO_CHECK(torch::cuda::is_available(), "device '", name,
               "' requested but this libtorch sees no CUDA device; use device=cpu or auto");
    return c10::Device(name);
  }
  POPO_FAIL("device '", name, "' is not supported; expected auto, cpu, cuda or cuda:N");
}

c10::ScalarType default_dtype_for(const c10::Device& device) {
  return device.is_cuda() ? c10::kBFloat16 : c10::kFloat;
}

std::string shape_string(c10::IntArrayRef shape) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << "]";
  return os.str();
}

}  // namespace popo
