#include "server/service/segment_request_parser.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/client_text.h"
#include "server/image/image_decoder.h"
#include "server/service/api_enums.h"
#include "server/service/request_memory.h"

namespace ovseg {
namespace {

absl::StatusOr<float> CheckedThreshold(const char* field, bool present, float value, float fallback,
                                       const v1::PostprocessConfig& p) {
  if (!present) return fallback;
  if (!std::isfinite(value) || value < p.min_threshold_override() ||
      value > p.max_threshold_override()) {
    return absl::InvalidArgumentError(
        absl::StrCat("options.", field, ": ", value, " outside [", p.min_threshold_override(), ", ",
                     p.max_threshold_override(), "] (postprocess.min/max_threshold_override)"));
  }
  return value;
}

}  // namespace

absl::Status ParseSegmentRequest(const v1::SegmentRequest& request, const v1::ServerConfig& config,
                                 VocabularyRegistry& registry, SegmentWork* work) {
  const v1::LimitsConfig& limits = config.limits();
  uint64_t image_pixels = 0;
  if (absl::Status s = CheckImageLimits(
          request.image(), ImageLimits{limits.max_image_pixels(), limits.max_image_side()},
          &image_pixels);
      !s.ok()) {
    return s;
  }

  switch (request.vocabulary_case()) {
    case v1::SegmentRequest::kLabels: {
      absl::StatusOr<std::vector<ParsedLabel>> labels = ParseLabels(
          request.labels().labels(), LabelLimits{static_cast<int>(limits.max_labels()),
                                                 static_cast<int>(limits.max_label_bytes())});
      if (!labels.ok()) return labels.status();
      work->labels = std::make_shared<const std::vector<ParsedLabel>>(*std::move(labels));
      break;
    }
    case v1::SegmentRequest::kVocabularyId:
      work->labels = registry.Find(request.vocabulary_id());
      if (work->labels == nullptr) {
        return absl::NotFoundError(
            absl::StrCat("vocabulary_id ", QuoteClientText(request.vocabulary_id()),
                         " is not registered on this server; call RegisterVocabulary again"));
      }
      break;
    case v1::SegmentRequest::VOCABULARY_NOT_SET:
      return absl::InvalidArgumentError(
          "labels: at least one non-empty label is required (or a vocabulary_id)");
  }

  absl::StatusOr<SegmentTask> task = TaskFromApi(request.task());
  if (!task.ok()) return task.status();
  work->task = *task;
  if (work->task == SegmentTask::kProposals && request.regions_size() > 0) {
    return absl::InvalidArgumentError(
        "task: PROPOSALS returns the mask generator's proposals, and regions bypass the "
        "generator; send regions with SEMANTIC, PANOPTIC or INSTANCE");
  }
  if (request.regions_size() > static_cast<int>(limits.max_regions())) {
    return absl::InvalidArgumentError(
        absl::StrCat("regions: ", request.regions_size(),
                     " exceed limits.max_regions = ", limits.max_regions()));
  }
  const v1::SegmentOptions& o = request.options();
  absl::StatusOr<HeadMode> head_mode = HeadModeFromApi(o.head_mode());
  if (!head_mode.ok()) return head_mode.status();
  work->head_mode = *head_mode;
  if (absl::Status s = CheckHeadModeTask(work->head_mode, work->task); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("options.head_mode: ", s.message()));
  }
  if (!v1::MaskFormat_IsValid(o.mask_format())) {
    return absl::InvalidArgumentError(
        absl::StrCat("options.mask_format: unknown value ", o.mask_format()));
  }
  const v1::PostprocessConfig& p = config.postprocess();
  if (o.max_segments() > limits.max_segments()) {
    return absl::InvalidArgumentError(
        absl::StrCat("options.max_segments: ", o.max_segments(),
                     " exceeds limits.max_segments = ", limits.max_segments()));
  }
  work->params.max_segments =
      static_cast<int>(o.max_segments() == 0 ? p.max_segments() : o.max_segments());
  if (o.has_score_threshold() &&
      (!std::isfinite(o.score_threshold()) || o.score_threshold() < 0 || o.score_threshold() > 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("options.score_threshold: ", o.score_threshold(), " outside [0, 1]"));
  }
  work->params.score_threshold =
      o.has_score_threshold() ? o.score_threshold() : p.score_threshold();
  absl::StatusOr<float> omt =
      CheckedThreshold("object_mask_threshold", o.has_object_mask_threshold(),
                       o.object_mask_threshold(), p.object_mask_threshold(), p);
  if (!omt.ok()) return omt.status();
  absl::StatusOr<float> ovt = CheckedThreshold("overlap_threshold", o.has_overlap_threshold(),
                                               o.overlap_threshold(), p.overlap_threshold(), p);
  if (!ovt.ok()) return ovt.status();
  work->params.object_mask_threshold = *omt;
  work->params.overlap_threshold = *ovt;

  // Memory, last: every field it depends on is valid now.
  RequestShape shape;
  shape.image_pixels = image_pixels;
  for (const v1::ShapeBucket& b : config.batching().buckets()) {
    shape.bucket_pixels = std::max<uint64_t>(shape.bucket_pixels, uint64_t{b.width()} * b.height());
  }
  shape.regions = static_cast<uint64_t>(request.regions_size());
  shape.labels = work->labels->size();
  shape.semantic = work->task == SegmentTask::kSemantic;
  shape.per_segment_masks =
      work->task == SegmentTask::kInstance || work->task == SegmentTask::kProposals;
  shape.max_segments = static_cast<uint64_t>(work->params.max_segments);
  shape.masks = o.mask_format() != v1::NO_MASK;
  shape.semantic_map = o.return_semantic_map();
  if (absl::Status s = CheckRequestMemory(shape, limits.max_request_memory_bytes()); !s.ok()) {
    return s;
  }
  work->memory_bytes = EstimateRequestMemory(shape).held();
  return absl::OkStatus();
}

}  // namespace ovseg
