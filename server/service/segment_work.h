// One Segment request on its way through decode, batching, compute and encode. Owned by
// whichever stage holds it; `done` is called exactly once, by the stage that ends it.
#ifndef OVSEG_SERVER_SERVICE_SEGMENT_WORK_H_
#define OVSEG_SERVER_SERVICE_SEGMENT_WORK_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "model/api/segmentation_pipeline.h"
#include "ovseg/v1/segmentation.pb.h"
#include "server/image/shape_bucket.h"
#include "server/lifecycle/servable.h"
#include "server/vocabulary/label_set.h"

namespace ovseg {

struct SegmentWork {
  // Owned by the RPC; valid until done() returns.
  const v1::SegmentRequest* request = nullptr;
  v1::SegmentResponse* response = nullptr;

  // The model version that answers this request, taken when it was admitted: a swap while
  // it waits does not change it.
  ServableSnapshot servable;
  std::shared_ptr<const std::vector<ParsedLabel>> labels;
  SegmentTask task = SegmentTask::kSemantic;
  HeadMode head_mode = HeadMode::kDefault;
  PostprocessParams params;
  // Upper bound on what this request holds outside the model call
  // (RequestMemoryEstimate::held()), reserved in the server's in-flight account until
  // done() returns.
  uint64_t memory_bytes = 0;

  // Filled by the decode stage.
  ImageRgb8 model_image;      // At the bucket resolution.
  BucketPlacement placement;  // The part of model_image the image fills (the rest: padding).
  // The labels' embeddings by the servable's text encoder, resolved before batching.
  std::shared_ptr<const VocabularyEmbeddings> vocabulary;
  RegionMasks regions;  // Client-supplied regions at the bucket resolution (may be empty).
  std::string bucket_name;
  int image_width = 0;
  int image_height = 0;

  // Stage durations, filled as the request moves on; copied into the reply's timings.
  double decode_seconds = 0;
  double queue_seconds = 0;
  double vocabulary_seconds = 0;
  double compute_seconds = 0;

  absl::Time arrival;
  absl::Time deadline_at = absl::InfiniteFuture();
  // Admitted because the model was idle, whatever the wait estimate said (the estimate
  // may be stale: running it corrects it); never refused later on the estimate either.
  bool admitted_on_idle_model = false;
  absl::Time enqueued;
  std::function<bool()> is_cancelled;
  // Receives the final status; the response is complete when it is OK.
  std::function<void(const absl::Status&)> done;

  // Frees the decoded image and regions once the model has run: the reply is built from
  // the model's result alone, and a request can wait for encoding behind others, so
  // holding a bucket-sized image (0.9 MB at 640x480) until then multiplies memory and
  // lets each new decode write to cold memory.
  void ReleaseModelInputs() {
    model_image.pixels = PixelBuffer();
    regions = RegionMasks();
    vocabulary.reset();
  }

  // Batcher<Task> contract (server/batching/batcher.h).
  const std::string& bucket() const { return bucket_name; }
  absl::Time deadline() const { return deadline_at; }
  bool IsCancelled() const { return is_cancelled && is_cancelled(); }
  void Fail(const absl::Status& status) { done(status); }
};

}  // namespace ovseg

#endif  // OVSEG_SERVER_SERVICE_SEGMENT_WORK_H_
