// Strict loading of named tensors from a safetensors file into existing destinations
// (parameters, buffers): every expected name must be stored with the destination's shape,
// and every stored name in scope must be expected. All problems are reported at once,
// and nothing is copied unless all of them match.
#ifndef OVSEG_MODEL_WEIGHTS_STRICT_TENSOR_COPY_H_
#define OVSEG_MODEL_WEIGHTS_STRICT_TENSOR_COPY_H_

#include <torch/torch.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "model/weights/safetensors_file.h"

namespace ovseg {

// `expected`: (stored name, destination). `in_scope`: which stored names this load owns
// (others belong to another loader). On a mismatch: INVALID_ARGUMENT
// "<what>: missing: a, b; shape (checkpoint vs model): c [..] vs [..]; unexpected: d;".
absl::Status CopyStoredTensorsStrict(
    const SafetensorsFile& file, const std::vector<std::pair<std::string, torch::Tensor>>& expected,
    const std::function<bool(const std::string&)>& in_scope, const std::string& what);

}  // namespace ovseg

#endif  // OVSEG_MODEL_WEIGHTS_STRICT_TENSOR_COPY_H_
