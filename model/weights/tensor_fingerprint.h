// A fingerprint of model weights: sha256 (hex) of a prefix string and the named tensors
// (names, shapes, fp32 values) in name order, so it does not depend on the file layout,
// the stored dtype or the serving precision. Checkpoints record the fingerprints of the
// base weights they were trained on.
#ifndef OVSEG_MODEL_WEIGHTS_TENSOR_FINGERPRINT_H_
#define OVSEG_MODEL_WEIGHTS_TENSOR_FINGERPRINT_H_

#include <torch/torch.h>

#include <map>
#include <string>

namespace ovseg {

std::string TensorFingerprint(const std::string& prefix,
                              const std::map<std::string, torch::Tensor>& tensors);

}  // namespace ovseg

#endif  // OVSEG_MODEL_WEIGHTS_TENSOR_FINGERPRINT_H_
