// What one Segment request may cost in memory, known before any work is spent, and the
// process-wide account of what admitted requests may still use. Together they keep every
// request within limits.max_request_memory_bytes and all of them within
// limits.max_inflight_memory_bytes, so no request the limits admit can exhaust the
// process (the hardening issue's F1: one 87 KB request once grew the server past 16 GB).
#ifndef OVSEG_SERVER_SERVICE_REQUEST_MEMORY_H_
#define OVSEG_SERVER_SERVICE_REQUEST_MEMORY_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace ovseg {

// The request's sizes that memory grows with.
struct RequestShape {
  uint64_t image_pixels = 0;   // width x height as sent
  uint64_t bucket_pixels = 0;  // the largest model input it may run at
  uint64_t regions = 0;
  uint64_t labels = 0;
  bool semantic = false;           // task SEMANTIC: per-class score maps at the bucket size
  bool per_segment_masks = false;  // tasks INSTANCE and PROPOSALS
  uint64_t max_segments = 0;       // the effective options.max_segments
  bool masks = true;               // false for NO_MASK
  bool semantic_map = false;
};

// Proposals a generator-backed model classifies per image (FovSegPipelineOptions'
// max_proposals); requests with regions use theirs.
inline constexpr uint64_t kEstimatedProposals = 100;

struct RequestMemoryEstimate {
  uint64_t decode = 0;   // the decoded image and its colour conversion, the bucket copy
  uint64_t regions = 0;  // one region decoded at full size, all at the bucket size
  uint64_t model = 0;    // proposal masks, class score maps, per-segment masks (bucket size)
  uint64_t encode = 0;   // full-size id map, label map and one mask; the encoded masks
  uint64_t total() const { return decode + regions + model + encode; }
  // What the request may hold outside the model call: what the in-flight account counts.
  // The model's share lives only while its batch runs, and batches are bounded by
  // batching.max_batch_size x num_batch_threads, so summing it over every queued request
  // would refuse load the process can carry.
  uint64_t held() const { return decode + regions + encode; }
  // "2.9 GB (decode 100.7 MB, regions 0 B, model 589.8 MB, encode 2.2 GB)".
  std::string Describe() const;
};

// An upper bound, not a typical figure: encoded masks are counted at one bit per pixel of
// the original image (what RLE or PNG of a mask upsampled from the bucket stays within).
RequestMemoryEstimate EstimateRequestMemory(const RequestShape& shape);

// INVALID_ARGUMENT naming limits.max_request_memory_bytes, the estimate and what to
// change, when the estimate exceeds `limit`.
absl::Status CheckRequestMemory(const RequestShape& shape, uint64_t limit);

// Bytes reserved by admitted requests (their held() estimates). Thread-safe; lock-free.
class InflightMemory {
 public:
  explicit InflightMemory(uint64_t limit) : limit_(limit) {}
  // Reserves `bytes` or answers RESOURCE_EXHAUSTED naming limits.max_inflight_memory_bytes
  // (the client may retry; nothing was reserved).
  absl::Status Reserve(uint64_t bytes);
  void Release(uint64_t bytes) { used_.fetch_sub(bytes, std::memory_order_acq_rel); }
  uint64_t used() const { return used_.load(std::memory_order_acquire); }
  uint64_t limit() const { return limit_; }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
};

}  // namespace ovseg

#endif  // OVSEG_SERVER_SERVICE_REQUEST_MEMORY_H_
