// The serving model currently in use. Readers take a reference per batch, so a swap never
// disturbs a batch in flight: it finishes on the model it started with.
#ifndef OVSEG_SERVER_SERVICE_MODEL_HANDLE_H_
#define OVSEG_SERVER_SERVICE_MODEL_HANDLE_H_

#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "model/api/segmentation_pipeline.h"
#include "model/api/text_encoder.h"

namespace ovseg {

class ModelHandle {
 public:
  ModelHandle(std::shared_ptr<SegmentationPipeline> pipeline,
              std::shared_ptr<TextEncoder> text_encoder)
      : pipeline_(std::move(pipeline)), text_encoder_(std::move(text_encoder)) {}

  std::shared_ptr<SegmentationPipeline> pipeline() const {
    absl::MutexLock lock(&mu_);
    return pipeline_;
  }
  std::shared_ptr<TextEncoder> text_encoder() const {
    absl::MutexLock lock(&mu_);
    return text_encoder_;
  }
  void Swap(std::shared_ptr<SegmentationPipeline> pipeline,
            std::shared_ptr<TextEncoder> text_encoder) {
    absl::MutexLock lock(&mu_);
    pipeline_ = std::move(pipeline);
    text_encoder_ = std::move(text_encoder);
  }

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<SegmentationPipeline> pipeline_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<TextEncoder> text_encoder_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ovseg

#endif  // OVSEG_SERVER_SERVICE_MODEL_HANDLE_H_
