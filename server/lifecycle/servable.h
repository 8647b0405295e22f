// One model version as requests see it: the pipeline, the text encoder that embeds its
// vocabularies, and the version id that answers carry. Immutable once built. A request
// takes a snapshot (shared_ptr<const Servable>) when it is admitted and keeps it to its
// end, so a swap never mixes two versions inside one request, and a version's memory is
// freed when the last request holding it finishes. Its per-version caches live with its
// parts: the TeVA target cache inside the pipeline, vocabulary embeddings in the shared
// VocabularyCache under its text encoder's fingerprint.
#ifndef OVSEG_SERVER_LIFECYCLE_SERVABLE_H_
#define OVSEG_SERVER_LIFECYCLE_SERVABLE_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "model/api/segmentation_pipeline.h"
#include "model/api/serving_model.h"
#include "model/api/text_encoder.h"

namespace ovseg {

class Servable {
 public:
  // `version`: the id answers and metrics carry. `checkpoint`: the stored checkpoint's
  // name, or "" for the model the config names.
  Servable(std::string version, std::string checkpoint, ServingModel model)
      : version_(std::move(version)),
        checkpoint_(std::move(checkpoint)),
        pipeline_(std::move(model.pipeline)),
        text_encoder_(std::move(model.text_encoder)) {}

  const std::string& version() const { return version_; }
  const std::string& checkpoint() const { return checkpoint_; }
  // Both are thread-safe objects (their own contracts): any number of requests holding
  // this servable may call them at once.
  SegmentationPipeline& pipeline() const { return *pipeline_; }
  TextEncoder& text_encoder() const { return *text_encoder_; }

 private:
  const std::string version_;
  const std::string checkpoint_;
  const std::shared_ptr<SegmentationPipeline> pipeline_;
  const std::shared_ptr<TextEncoder> text_encoder_;
};

using ServableSnapshot = std::shared_ptr<const Servable>;

// Builds the model of a checkpoint file ("" = the config's own model). Called on the
// manager's thread only; may take long and may fail (or throw: the manager catches).
using ServableLoader = std::function<absl::StatusOr<ServingModel>(const std::string& path)>;

}  // namespace ovseg

#endif  // OVSEG_SERVER_LIFECYCLE_SERVABLE_H_
