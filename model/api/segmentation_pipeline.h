// The narrow, LibTorch-free interface between the server and the model (docs/design.md,
// "Layout"). The server hands over decoded images already resized to a shape bucket and
// the request's class embeddings; the model returns segments at that bucket resolution.
#ifndef OVSEG_MODEL_API_SEGMENTATION_PIPELINE_H_
#define OVSEG_MODEL_API_SEGMENTATION_PIPELINE_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace ovseg {

// A std::allocator whose value-initialisation leaves bytes uninitialised: decoders and
// resizers overwrite every pixel, and zero-filling a megabyte first cost ~3% of JPEG
// request throughput (bench/server_overhead_bench).
template <typename T>
struct UninitialisedAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = UninitialisedAllocator<U>;
  };
  UninitialisedAllocator() = default;
  template <typename U>
  UninitialisedAllocator(const UninitialisedAllocator<U>&) noexcept {}
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
using PixelBuffer = std::vector<uint8_t, UninitialisedAllocator<uint8_t>>;

// Interleaved RGB8, row-major, no padding: pixels.size() == width * height * 3.
struct ImageRgb8 {
  int width = 0;
  int height = 0;
  PixelBuffer pixels;
};

// kProposals: the generator's proposals, best objectness first (see PROPOSALS in
// segmentation.proto).
enum class SegmentTask { kSemantic, kPanoptic, kInstance, kProposals };
// kMask: generator + mask classifier; kDense: the dense head alone (semantic only); kFused:
// both, ensembled. kDefault: kFused when the model has a dense head, else kMask.
enum class HeadMode { kDefault, kMask, kDense, kFused };

// The one rule of which tasks a head mode answers: the dense head scores pixels, so DENSE
// gives SEMANTIC results only. Checked where a request is parsed (the server) and where a
// pipeline runs (its direct callers); the caller names its field.
inline absl::Status CheckHeadModeTask(HeadMode mode, SegmentTask task) {
  if (mode == HeadMode::kDense && task != SegmentTask::kSemantic) {
    return absl::InvalidArgumentError(
        "DENSE produces per-pixel scores only and supports task SEMANTIC; use MASK or FUSED "
        "for PANOPTIC and INSTANCE");
  }
  return absl::OkStatus();
}

// Class embeddings of one vocabulary: row-major [num_labels x dim], each row L2-normalised.
// Immutable once built, shared between the cache and in-flight requests.
struct VocabularyEmbeddings {
  int num_labels = 0;
  int dim = 0;
  std::vector<float> data;
  // Cache key (text-encoder fingerprint, templates, labels); equal keys, equal data.
  std::string key;
};

struct PostprocessParams {
  float score_threshold = 0.3f;
  float object_mask_threshold = 0.5f;  // MaskCLIP's; config.proto PostprocessConfig
  float overlap_threshold = 0.5f;
  int max_segments = 100;
};

// The one score filter of every answer (the model's post-processing of each task and the
// server's reply both use it): the positions of `scores` at or above `threshold`, best
// first (ties in their given order), at most `max_count`.
inline std::vector<int> RankedAtOrAbove(absl::Span<const float> scores, float threshold,
                                        int max_count) {
  std::vector<int> order;
  for (int i = 0; i < static_cast<int>(scores.size()); ++i) {
    if (scores[i] >= threshold) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return scores[a] > scores[b]; });
  if (static_cast<int>(order.size()) > max_count) order.resize(std::max(0, max_count));
  return order;
}

// Client-supplied regions ("classify these regions") at the bucket resolution:
// count x height x width bytes, 1 inside, 0 outside.
struct RegionMasks {
  int count = 0;
  int width = 0;
  int height = 0;
  std::vector<uint8_t> data;
};

struct PipelineRequest {
  // At the batch's bucket resolution; owned by the caller for the duration of Run().
  const ImageRgb8* image = nullptr;
  // When set (count > 0), these regions are classified instead of generated proposals.
  const RegionMasks* regions = nullptr;
  // The part of the bucket the image fills, from its top-left corner; the rest is padding
  // (server/image/shape_bucket.h). Results cover this part only. 0: the whole bucket.
  int content_width = 0;
  int content_height = 0;
  // The content's size with the 0 defaults resolved (needs `image`).
  int ContentWidth() const { return content_width > 0 ? content_width : image->width; }
  int ContentHeight() const { return content_height > 0 ? content_height : image->height; }
  std::shared_ptr<const VocabularyEmbeddings> vocabulary;
  // Per label: thing (true) or stuff (false); used by panoptic inference.
  std::vector<bool> is_thing;
  // Per label: its normalised synonyms joined by kLabelSynonymSeparator (label_text.h);
  // fusion weighs classes in the training vocabulary differently. May be empty (then
  // every class counts as unseen).
  std::vector<std::string> label_keys;
  SegmentTask task = SegmentTask::kSemantic;
  HeadMode head_mode = HeadMode::kDefault;
  PostprocessParams params;
};

struct PipelineSegment {
  int label_index = 0;
  float score = 0.0f;
  bool is_thing = true;
  // Soft mask at the bucket resolution, probability x 255, row-major. Empty when the
  // result carries a segment_id_map instead.
  std::vector<uint8_t> soft_mask;
};

struct PipelineResult {
  // The resolution the masks are expressed in: the request's content part of the bucket
  // (PipelineRequest.content_width/height), or the whole bucket.
  int width = 0;
  int height = 0;
  std::vector<PipelineSegment> segments;
  // For non-overlapping tasks (semantic, panoptic): per pixel, 0 for none or
  // 1 + index into segments. Empty for instance results, which use soft masks.
  std::vector<int32_t> segment_id_map;
};

struct PipelineInfo {
  std::string model_name;
  std::string model_version;
  std::string device;
  std::vector<HeadMode> head_modes;
  std::vector<SegmentTask> tasks;
  // False when the model has no mask generator: every request must bring regions.
  bool generates_masks = true;
};

class SegmentationPipeline {
 public:
  virtual ~SegmentationPipeline() = default;

  // Runs one batch whose images share one shape. Result i answers batch[i]; a failure of
  // one request does not fail the others. Called from the batcher's threads, possibly
  // concurrently when num_batch_threads > 1.
  virtual std::vector<absl::StatusOr<PipelineResult>> Run(
      absl::Span<const PipelineRequest> batch) = 0;

  virtual PipelineInfo Info() const = 0;
};

}  // namespace ovseg

#endif  // OVSEG_MODEL_API_SEGMENTATION_PIPELINE_H_
