#include "client/coco_results.h"

namespace ovseg {

void AppendCocoResults(const v1::SegmentResponse& response, int64_t image_id,
                       const std::vector<int64_t>& category_ids, nlohmann::json* out) {
  for (const v1::Segment& s : response.segments()) {
    const uint32_t index = s.label_index();
    const int64_t category =
        index < category_ids.size() ? category_ids[index] : static_cast<int64_t>(index) + 1;
    nlohmann::json j = {{"image_id", image_id},
                        {"category_id", category},
                        {"score", s.score()},
                        {"bbox", {s.bbox().x(), s.bbox().y(), s.bbox().width(), s.bbox().height()}},
                        {"area", s.area()},
                        {"iscrowd", 0},
                        {"label", s.label()},
                        {"isthing", s.is_thing() ? 1 : 0}};
    if (s.has_rle()) {
      j["segmentation"] = {{"size", {s.rle().height(), s.rle().width()}},
                           {"counts", s.rle().counts()}};
    } else if (s.has_polygons()) {
      nlohmann::json polygons = nlohmann::json::array();
      for (const v1::Polygon& p : s.polygons().polygons()) {
        polygons.push_back(std::vector<float>(p.points().begin(), p.points().end()));
      }
      j["segmentation"] = std::move(polygons);
    }
    out->push_back(std::move(j));
  }
}

}  // namespace ovseg
