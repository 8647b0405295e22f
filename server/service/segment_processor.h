// The Segment request path behind the gRPC handler: decode and resize on the I/O pool,
// dynamic batching per shape bucket, vocabulary lookup and the model on the batch
// threads, encoding back on the I/O pool. No gRPC types: the handler adapts.
#ifndef OVSEG_SERVER_SERVICE_SEGMENT_PROCESSOR_H_
#define OVSEG_SERVER_SERVICE_SEGMENT_PROCESSOR_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "server/batching/batcher.h"
#include "server/common/clock.h"
#include "server/common/thread_pool.h"
#include "server/image/image_decoder.h"
#include "server/image/shape_bucket.h"
#include "server/metrics/server_metrics.h"
#include "server/service/model_handle.h"
#include "server/service/segment_work.h"
#include "server/service/wait_estimator.h"
#include "server/vocabulary/vocabulary_cache.h"

namespace ovseg {

struct SegmentProcessorOptions {
  ImageLimits image_limits;
  std::vector<ShapeBucket> buckets;  // Not empty.
  BatcherOptions batching;
  int io_threads = 2;
  v1::MaskFormat default_mask_format = v1::COCO_RLE;
  // batching.max_queue_seconds: refuse (RESOURCE_EXHAUSTED) a request whose estimated
  // wait for the model is longer; 0: no bound.
  double max_queue_seconds = 0;
};

class SegmentProcessor {
 public:
  // `model`, `cache`, `metrics` and `clock` must outlive the processor.
  static absl::StatusOr<std::unique_ptr<SegmentProcessor>> Create(
      const SegmentProcessorOptions& options, ModelHandle* model, VocabularyCache* cache,
      ServerMetrics* metrics, Clock* clock);
  ~SegmentProcessor();

  // Takes the work. OK means work->done will be called exactly once, later. An error means
  // done was not and will not be called (queue full: RESOURCE_EXHAUSTED; shutting down:
  // UNAVAILABLE); the caller answers.
  absl::Status Submit(std::unique_ptr<SegmentWork>& work);

  // Runs one small batch per bucket through the model, so the first real request does
  // not pay for lazy initialisation.
  absl::Status WarmUp();
  // The same on a model that is not serving (a checkpoint's standby): its vocabulary
  // comes from `text_encoder` directly, so the cache never sees its embeddings before the
  // swap.
  absl::Status WarmUp(const std::shared_ptr<SegmentationPipeline>& pipeline,
                      const std::shared_ptr<TextEncoder>& text_encoder);

  // Stops accepting work, finishes everything queued, joins the threads. Idempotent.
  void Shutdown();

  size_t queue_depth() const;

 private:
  absl::Status WarmUpWith(const std::shared_ptr<SegmentationPipeline>& pipeline,
                          std::shared_ptr<const VocabularyEmbeddings> vocab);
  SegmentProcessor(const SegmentProcessorOptions& options, ModelHandle* model,
                   VocabularyCache* cache, ServerMetrics* metrics, Clock* clock);
  void Decode(std::unique_ptr<SegmentWork> work);
  void ProcessBatch(std::vector<std::unique_ptr<SegmentWork>> batch);
  void Encode(std::unique_ptr<SegmentWork> work, absl::StatusOr<PipelineResult> result,
              const std::string& model_version);

  const SegmentProcessorOptions options_;
  ModelHandle* const model_;
  VocabularyCache* const cache_;
  ServerMetrics* const metrics_;
  Clock* const clock_;
  std::unique_ptr<ThreadPool> io_pool_;
  std::unique_ptr<Batcher<SegmentWork>> batcher_;
  std::atomic<size_t> decoding_{0};
  WaitEstimator wait_;
};

}  // namespace ovseg

#endif  // OVSEG_SERVER_SERVICE_SEGMENT_PROCESSOR_H_
