// The frozen base weights a ModelConfig names, loaded for serving (ServingModelLoader) and
// for training (ovseg-train) alike: CLIP on the configured device and precision, the
// Mask2Former generator when configured, and the fingerprints (sha256 of the published
// weights, before any precision change) that every checkpoint records and is checked
// against.
#ifndef OVSEG_MODEL_SERVING_BASE_WEIGHTS_H_
#define OVSEG_MODEL_SERVING_BASE_WEIGHTS_H_

#include <torch/torch.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "model/clip/clip_model.h"
#include "model/maskformer/mask_generator.h"
#include "ovseg/v1/config.pb.h"

namespace ovseg {

struct BaseWeights {
  ClipModel clip{nullptr};
  std::shared_ptr<MaskGenerator> generator;  // null without model.mask_generator_weights
  std::string clip_sha256, generator_sha256;
  torch::Device device{torch::kCPU};
  std::string device_name;  // as resolved: "cpu", "cuda:0", ...
};

// Resolves the device, checks LibTorch on it and loads. A config without CLIP weights is
// refused with an error saying what is missing: nothing ever runs on fake weights.
absl::StatusOr<BaseWeights> LoadBaseWeights(const v1::ModelConfig& config);

// CLIP alone, as configured (layout, activation, interpolation, device, precision).
// `weights_sha256`, when given, receives its fingerprint.
absl::StatusOr<ClipModel> LoadConfiguredClip(const v1::ModelConfig& config,
                                             torch::Device* device_out,
                                             std::string* weights_sha256 = nullptr);

}  // namespace ovseg

#endif  // OVSEG_MODEL_SERVING_BASE_WEIGHTS_H_
