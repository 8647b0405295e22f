// Builds the serving model (pipeline + text encoder) named by a ModelConfig.
#ifndef OVSEG_MODEL_SERVING_MODEL_FACTORY_H_
#define OVSEG_MODEL_SERVING_MODEL_FACTORY_H_

#include <memory>

#include "absl/status/statusor.h"
#include "model/api/segmentation_pipeline.h"
#include "model/api/text_encoder.h"
#include "ovseg/v1/config.pb.h"

namespace ovseg {

struct ServingModel {
  std::shared_ptr<SegmentationPipeline> pipeline;
  std::shared_ptr<TextEncoder> text_encoder;
};

// Resolves the device, checks LibTorch on it and builds the preset. Presets whose model
// code has not landed yet are refused with an error saying what is missing: the server
// never serves fake output.
absl::StatusOr<ServingModel> CreateServingModel(const v1::ModelConfig& config);

// The CLIP text encoder from config.clip_weights (layout, activation, device, precision
// as configured). Weight problems are INVALID_ARGUMENT/NOT_FOUND naming file and tensor.
absl::StatusOr<std::shared_ptr<TextEncoder>> CreateClipTextEncoder(const v1::ModelConfig& config);

}  // namespace ovseg

#endif  // OVSEG_MODEL_SERVING_MODEL_FACTORY_H_
