// The parts of one loaded model version, as a loader hands them to whoever serves them:
// the model side builds it (model/serving/model_factory.h), the server wraps it in an
// immutable Servable (server/lifecycle/servable.h). LibTorch-free.
#ifndef OVSEG_MODEL_API_SERVING_MODEL_H_
#define OVSEG_MODEL_API_SERVING_MODEL_H_

#include <memory>
#include <string>
#include <vector>

#include "model/api/segmentation_pipeline.h"
#include "model/api/text_encoder.h"

namespace ovseg {

struct ServingModel {
  std::shared_ptr<SegmentationPipeline> pipeline;
  std::shared_ptr<TextEncoder> text_encoder;
  // The templates the checkpoint's training embedded classes with (empty: untrained model,
  // or a checkpoint that did not record them); the server compares them with its own.
  std::vector<std::string> training_prompt_templates;
};

}  // namespace ovseg

#endif  // OVSEG_MODEL_API_SERVING_MODEL_H_
