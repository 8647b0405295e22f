// Test doubles for the model interfaces. Deterministic and cheap; never used by the
// shipped server binary.
#ifndef OVSEG_TESTS_FAKES_FAKE_PIPELINE_H_
#define OVSEG_TESTS_FAKES_FAKE_PIPELINE_H_

#include <atomic>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "model/api/segmentation_pipeline.h"
#include "model/api/text_encoder.h"
#include "server/common/clock.h"

namespace ovseg::testing {

// Splits the image into vertical stripes, one per label (label i owns stripe i), with
// score 0.9 - 0.01 * i. Semantic/panoptic results use a segment-id map, instance results
// soft masks. Optional per-batch delay and warm-up delay simulate compute; with `cores`
// set, calls running side by side share that many cores, as concurrent model calls do.
class FakeSegmentationPipeline : public SegmentationPipeline {
 public:
  struct Options {
    absl::Duration compute_delay = absl::ZeroDuration();
    absl::Duration warmup_delay = absl::ZeroDuration();  // Applied to the first batch only.
    // 0: every call takes compute_delay, however many run. > 0: a call needs
    // compute_delay of one core, and n calls running at once each get min(1, cores / n)
    // of a core (so with cores 1, two calls side by side each take twice as long).
    int cores = 0;
    std::string version = "fake-1";
  };
  FakeSegmentationPipeline() : FakeSegmentationPipeline(Options()) {}
  explicit FakeSegmentationPipeline(Options options) : options_(std::move(options)) {}

  std::vector<absl::StatusOr<PipelineResult>> Run(absl::Span<const PipelineRequest> batch) override;
  PipelineInfo Info() const override;

  // Changes the per-batch delay from the next batch on (the model got slower or faster).
  void set_compute_delay(absl::Duration delay);

  int batches() const { return batches_.load(); }
  std::vector<int> batch_sizes() const;
  // The last request's content corner (PipelineRequest.content_width x content_height);
  // results, like a real pipeline's, cover that corner only.
  std::pair<int, int> last_content() const;

 private:
  mutable absl::Mutex mu_;
  Options options_;  // compute_delay is guarded by mu_
  std::atomic<int> batches_{0};
  std::atomic<int> running_{0};  // calls in Run now
  std::vector<int> batch_sizes_ ABSL_GUARDED_BY(mu_);
  std::pair<int, int> last_content_ ABSL_GUARDED_BY(mu_);
};

// The calling thread's nice value (Linux: per thread).
int CurrentThreadNice();

// Embeddings derived from a hash of the prompt; counts prompts encoded.
class FakeTextEncoder : public TextEncoder {
 public:
  explicit FakeTextEncoder(std::string fingerprint = "fake-encoder-a", int dim = 8)
      : fingerprint_(std::move(fingerprint)), dim_(dim) {}
  std::string Fingerprint() const override { return fingerprint_; }
  int EmbeddingDim() const override { return dim_; }
  absl::StatusOr<std::vector<float>> Encode(absl::Span<const std::string> prompts) override;
  int prompts_encoded() const { return prompts_encoded_.load(); }
  // The nice values of the threads that called Encode.
  std::set<int> nice_values() const;

 private:
  std::string fingerprint_;
  int dim_;
  std::atomic<int> prompts_encoded_{0};
  mutable absl::Mutex mu_;
  std::set<int> nice_values_ ABSL_GUARDED_BY(mu_);
};

class FakeClock : public Clock {
 public:
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ = absl::UnixEpoch() + absl::Hours(1);
};

}  // namespace ovseg::testing

#endif  // OVSEG_TESTS_FAKES_FAKE_PIPELINE_H_
