// Precision names ("fp32", "bf16", "fp16") as LibTorch dtypes, shared by the model factory
// and the tools so that both accept and refuse the same names.
#ifndef OVSEG_MODEL_RUNTIME_TORCH_PRECISION_H_
#define OVSEG_MODEL_RUNTIME_TORCH_PRECISION_H_

#include <torch/torch.h>

#include <string>

#include "absl/status/statusor.h"

namespace ovseg {

// "" and "fp32" -> float32, "bf16" -> bfloat16, "fp16" -> float16 on CUDA devices only
// (`device` as ResolveDevice returns it). Errors name `field` and the accepted values.
absl::StatusOr<torch::ScalarType> ParsePrecision(const std::string& precision,
                                                 const std::string& device,
                                                 const std::string& field);

}  // namespace ovseg

#endif  // OVSEG_MODEL_RUNTIME_TORCH_PRECISION_H_
