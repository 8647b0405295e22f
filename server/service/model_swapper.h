// Checkpoint activation (DESIGN.md "Checkpoint swap"): the checkpoint is loaded into a
// standby model beside the serving one (validated on the way: format, base fingerprints,
// tensor names and shapes), warmed up, then swapped in atomically. Batches in flight
// finish on the model they started with (ModelHandle); the vocabulary cache moves to the
// standby's text encoder and drops the old encoder's entries. Any failure leaves the
// serving model as it was and is returned. One activation runs at a time.
#ifndef OVSEG_SERVER_SERVICE_MODEL_SWAPPER_H_
#define OVSEG_SERVER_SERVICE_MODEL_SWAPPER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "model/api/segmentation_pipeline.h"
#include "model/api/text_encoder.h"
#include "server/service/model_handle.h"
#include "server/vocabulary/vocabulary_cache.h"

namespace ovseg {

struct StandbyModel {
  std::shared_ptr<SegmentationPipeline> pipeline;
  std::shared_ptr<TextEncoder> text_encoder;
};

// Builds a standby model from a checkpoint file (model/serving/model_factory.h's
// ServingModelLoader::Build behind a LibTorch-free function).
using CheckpointLoader = std::function<absl::StatusOr<StandbyModel>(const std::string& path)>;
// Runs the warm-up batch(es) on a model that is not serving yet.
using StandbyWarmUp = std::function<absl::Status(const StandbyModel& model)>;

class ModelSwapper {
 public:
  ModelSwapper(CheckpointLoader loader, StandbyWarmUp warm_up, ModelHandle* model,
               VocabularyCache* cache);

  // Returns the new model version.
  absl::StatusOr<std::string> Activate(const std::string& path);

 private:
  const CheckpointLoader loader_;
  const StandbyWarmUp warm_up_;
  ModelHandle* const model_;
  VocabularyCache* const cache_;
  absl::Mutex mu_;  // held for a whole activation
};

}  // namespace ovseg

#endif  // OVSEG_SERVER_SERVICE_MODEL_SWAPPER_H_
