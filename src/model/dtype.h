// Names of dtypes and devices as they appear in configs and on the command line
// ("float32" | "bfloat16" | "float16"; "auto" | "cpu" | "cuda" | "cuda:N"), parsed once here.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>
#include <c10/util/ArrayRef.h>

#include <string>

namespace popo {

// Returns the scalar type for a dtype name; accepts fp32/bf16/fp16 and torch.* spellings too.
// Throws popo::Error listing the accepted names otherwise.
c10::ScalarType parse_dtype(const std::string& name);
// Returns the canonical name ("float32", "bfloat16", "float16") of a floating dtype.
std::string dtype_name(c10::ScalarType dtype);
// Returns the device for a name; "auto" is CUDA when available, else CPU.
c10::Device parse_device(const std::string& name);
// Returns the default compute dtype for a device: float32 on CPU, bfloat16 on CUDA.
c10::ScalarType default_dtype_for(const c10::Device& device);
// Returns a tensor shape as "[d0, d1, ...]" for error messages.
std::string shape_string(c10::IntArrayRef shape);

}  // namespace popo
