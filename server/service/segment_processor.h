// The Segment request path behind the gRPC handler: decode and resize on the I/O pool, the
// vocabulary resolved against the request's servable before batching (a cached one on the
// I/O thread, a cold one on the vocabulary thread, so that encoding a large vocabulary
// delays only the requests that need it), dynamic batching per shape bucket, the model
// on the batch threads (each request on the servable it was admitted with), encoding back
// on the I/O pool. No gRPC types: the handler adapts.
#ifndef OVSEG_SERVER_SERVICE_SEGMENT_PROCESSOR_H_
#define OVSEG_SERVER_SERVICE_SEGMENT_PROCESSOR_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "server/batching/batcher.h"
#include "server/common/clock.h"
#include "server/common/process_tuning.h"
#include "server/common/thread_pool.h"
#include "server/image/image_decoder.h"
#include "server/image/shape_bucket.h"
#include "server/lifecycle/servable.h"
#include "server/metrics/server_metrics.h"
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
  // Threads that encode vocabularies not in the cache.
  int vocabulary_threads = 1;
};

class SegmentProcessor {
 public:
  // `cache`, `metrics` and `clock` must outlive the processor.
  static absl::StatusOr<std::unique_ptr<SegmentProcessor>> Create(
      const SegmentProcessorOptions& options, VocabularyCache* cache, ServerMetrics* metrics,
      Clock* clock);
  ~SegmentProcessor();

  // Takes the work (work->servable set). OK means work->done will be called exactly once, later. An
  // error means done was not and will not be called (queue full: RESOURCE_EXHAUSTED; shutting down:
  // UNAVAILABLE); the caller answers.
  absl::Status Submit(std::unique_ptr<SegmentWork>& work);

  // Runs one small batch per bucket through `servable`, so that its first real request
  // does not pay for lazy initialisation. Its one-label vocabulary comes from its text
  // encoder directly, so the cache never holds a version's embeddings before it serves.
  absl::Status WarmUp(const Servable& servable);

  // Stops accepting work, finishes everything queued, joins the threads. Idempotent.
  void Shutdown();

  size_t queue_depth() const;

 private:
  SegmentProcessor(const SegmentProcessorOptions& options, VocabularyCache* cache,
                   ServerMetrics* metrics, Clock* clock);
  void Decode(std::unique_ptr<SegmentWork> work);
  // Encodes a vocabulary that was not cached (vocabulary thread), then batches the work.
  void EncodeVocabulary(std::unique_ptr<SegmentWork> work);
  // The two ways out of preparation; each leaves preparing_ once.
  void Enqueue(std::unique_ptr<SegmentWork> work);
  void FailPreparing(std::unique_ptr<SegmentWork> work, const absl::Status& status);
  void ProcessBatch(std::vector<std::unique_ptr<SegmentWork>> batch);
  // One servable's share of a batch.
  void RunOn(const Servable& servable, std::vector<std::unique_ptr<SegmentWork>> works);
  void Encode(std::unique_ptr<SegmentWork> work, absl::StatusOr<PipelineResult> result);

  const SegmentProcessorOptions options_;
  VocabularyCache* const cache_;
  ServerMetrics* const metrics_;
  Clock* const clock_;
  std::unique_ptr<ThreadPool> io_pool_;
  std::unique_ptr<ThreadPool> vocabulary_pool_;
  std::unique_ptr<Batcher<SegmentWork>> batcher_;
  // Requests admitted and not yet in the batcher (decoding, or waiting for their
  // vocabulary): they count against the queue bound like those waiting for the model.
  std::atomic<size_t> preparing_{0};
  WaitEstimator wait_;
  // Batch thread, after each batch: freed memory back to the kernel every 10 s at most,
  // so RSS follows the load down after peaks (docs/hardening.md, "Soak").
  FreedMemoryTrimmer trimmer_{absl::Seconds(10)};
};

}  // namespace ovseg

#endif  // OVSEG_SERVER_SERVICE_SEGMENT_PROCESSOR_H_
