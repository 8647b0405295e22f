// A Segment reply as COCO results, the list pycocotools' COCO.loadRes reads: one record per
// segment with an integer image_id, an integer category_id, the score, the bbox (x, y, w,
// h) and the mask as COCO RLE ({"size": [h, w], "counts": "..."}) or polygons
// ([[x0, y0, x1, y1, ...], ...]), as the reply carries it (no mask: bbox results). "label"
// and "isthing" are added for people reading the file (loadRes ignores them). Pure.
#ifndef OVSEG_CLIENT_COCO_RESULTS_H_
#define OVSEG_CLIENT_COCO_RESULTS_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "ovseg/v1/segmentation.pb.h"

namespace ovseg {

// `category_ids[label_index]` is a segment's category id; empty: label_index + 1 (COCO's
// ids start at 1). Records are appended to `out` (a JSON array).
void AppendCocoResults(const v1::SegmentResponse& response, int64_t image_id,
                       const std::vector<int64_t>& category_ids, nlohmann::json* out);

}  // namespace ovseg

#endif  // OVSEG_CLIENT_COCO_RESULTS_H_
