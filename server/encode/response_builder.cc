#include "server/encode/response_builder.h"

#include <algorithm>
#include <numeric>
#include <opencv2/imgproc.hpp>

#include "absl/strings/str_cat.h"
#include "common/coco_rle.h"
#include "server/encode/mask_codecs.h"

namespace ovseg {
namespace {

absl::Status CheckResult(const PipelineResult& r, int num_labels) {
  const size_t pixels = static_cast<size_t>(r.width) * r.height;
  if (r.width <= 0 || r.height <= 0) return absl::InternalError("pipeline result without size");
  if (!r.segment_id_map.empty() && r.segment_id_map.size() != pixels) {
    return absl::InternalError("pipeline segment_id_map has the wrong size");
  }
  for (const PipelineSegment& s : r.segments) {
    if (s.label_index < 0 || s.label_index >= num_labels) {
      return absl::InternalError(absl::StrCat("pipeline label_index ", s.label_index,
                                              " outside the vocabulary of ", num_labels));
    }
    if (r.segment_id_map.empty() && s.soft_mask.size() != pixels) {
      return absl::InternalError("pipeline soft mask has the wrong size");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status BuildResponse(const PipelineResult& result, const ResponseOptions& options,
                           v1::SegmentResponse* response) {
  const int num_labels = static_cast<int>(options.label_names.size());
  if (absl::Status s = CheckResult(result, num_labels); !s.ok()) return s;
  const cv::Size original(options.image_width, options.image_height);

  // Segment-id maps keep semantic and panoptic results free of overlaps at any scale.
  cv::Mat ids;
  if (!result.segment_id_map.empty()) {
    const cv::Mat small(result.height, result.width, CV_32SC1,
                        const_cast<int32_t*>(result.segment_id_map.data()));
    cv::resize(small, ids, original, 0, 0, cv::INTER_NEAREST);
  }

  // The pipeline has filtered by the same parameters; this keeps the reply within the
  // request's limits whatever the pipeline (segments empty at the original size are
  // dropped below, so the cap is applied to what is kept).
  std::vector<float> scores;
  for (const PipelineSegment& seg : result.segments) scores.push_back(seg.score);
  const std::vector<int> order =
      RankedAtOrAbove(scores, options.score_threshold, static_cast<int>(scores.size()));

  // One mask at full resolution at a time: each is made, encoded and dropped before the
  // next, so memory stays one mask (plus the maps) whatever max_segments is. Holding them
  // all cost max_segments x pixels: 16 GB for 1000 segments of a 4096 x 4096 image.
  cv::Mat label_map;
  if (options.semantic_map) label_map = cv::Mat(original, CV_32SC1, cv::Scalar(-1));
  int kept = 0;
  for (int index : order) {
    const PipelineSegment& seg = result.segments[index];
    if (kept >= options.max_segments) break;
    cv::Mat mask;
    if (!ids.empty()) {
      mask = ids == (index + 1);
    } else {
      const cv::Mat soft(result.height, result.width, CV_8UC1,
                         const_cast<uint8_t*>(seg.soft_mask.data()));
      cv::Mat resized;
      cv::resize(soft, resized, original, 0, 0, cv::INTER_LINEAR);
      mask = resized >= 128;
    }
    const int area = cv::countNonZero(mask);
    if (area == 0) continue;
    ++kept;
    v1::Segment* out = response->add_segments();
    out->set_id(static_cast<uint32_t>(kept));
    out->set_label_index(seg.label_index);
    out->set_label(options.label_names[seg.label_index]);
    out->set_score(seg.score);
    out->set_is_thing(seg.is_thing);
    out->set_area(area);
    const cv::Rect box = cv::boundingRect(mask);  // of its non-zero pixels; no point list
    out->mutable_bbox()->set_x(box.x);
    out->mutable_bbox()->set_y(box.y);
    out->mutable_bbox()->set_width(box.width);
    out->mutable_bbox()->set_height(box.height);
    switch (options.mask_format) {
      case v1::MASK_FORMAT_UNSPECIFIED:
      case v1::COCO_RLE: {
        const cv::Mat contiguous = mask.isContinuous() ? mask : mask.clone();
        const CocoRleMask rle = EncodeRle(contiguous.ptr<uint8_t>(), mask.rows, mask.cols);
        out->mutable_rle()->set_height(rle.height);
        out->mutable_rle()->set_width(rle.width);
        out->mutable_rle()->set_counts(RleCountsToString(rle.counts));
        break;
      }
      case v1::PNG:
        out->set_png(EncodeMaskPng(mask));
        break;
      case v1::POLYGON: {
        v1::PolygonList* list = out->mutable_polygons();
        for (auto& poly : MaskToPolygons(mask)) {
          list->add_polygons()->mutable_points()->Assign(poly.begin(), poly.end());
        }
        break;
      }
      case v1::NO_MASK:
        break;
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("options.mask_format: unknown value ", options.mask_format));
    }
    // Segments come best first, so the best segment owns contested pixels: paint only
    // what no earlier one took.
    if (options.semantic_map) label_map.setTo(seg.label_index, mask & (label_map == -1));
  }
  if (options.semantic_map) {
    response->set_semantic_map_png(EncodeLabelMapPng(label_map, num_labels));
  }
  return absl::OkStatus();
}

}  // namespace ovseg
