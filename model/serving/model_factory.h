// Builds the serving model (pipeline + text encoder) named by a ModelConfig.
#ifndef OVSEG_MODEL_SERVING_MODEL_FACTORY_H_
#define OVSEG_MODEL_SERVING_MODEL_FACTORY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/api/serving_model.h"
#include "model/api/text_encoder.h"
#include "ovseg/v1/config.pb.h"

namespace ovseg {

// Loads the frozen base weights a config names (CLIP, the mask generator) once, and builds
// serving models on them: the untrained one, or one per trained checkpoint. Build() is
// what a checkpoint swap uses for its standby copy: it validates the checkpoint (format,
// base fingerprints, tensor names and shapes), loads only its small trained tensors and
// shares the frozen weights, and never touches a model already serving. Thread-safe.
class ServingModelLoader {
 public:
  // Resolves the device, checks LibTorch on it and loads the base. A config without
  // weights is refused with an error saying what is missing: the server never serves fake
  // output.
  static absl::StatusOr<std::unique_ptr<ServingModelLoader>> Create(const v1::ModelConfig& config);
  ~ServingModelLoader();

  // checkpoint_path "" = the untrained model. Never throws: an exception while building
  // (an allocation failure included) is returned as this load's error.
  absl::StatusOr<ServingModel> Build(const std::string& checkpoint_path) const;

 private:
  absl::StatusOr<ServingModel> BuildUnguarded(const std::string& checkpoint_path) const;
  struct Base;
  explicit ServingModelLoader(std::unique_ptr<Base> base);
  std::unique_ptr<Base> base_;
};

// ServingModelLoader::Create(config) then Build(config.checkpoint()).
absl::StatusOr<ServingModel> CreateServingModel(const v1::ModelConfig& config);

// The CLIP text encoder from config.clip_weights (layout, activation, device, precision
// as configured). Weight problems are INVALID_ARGUMENT/NOT_FOUND naming file and tensor.
absl::StatusOr<std::shared_ptr<TextEncoder>> CreateClipTextEncoder(const v1::ModelConfig& config);

}  // namespace ovseg

#endif  // OVSEG_MODEL_SERVING_MODEL_FACTORY_H_
