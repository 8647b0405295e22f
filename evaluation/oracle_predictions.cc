#include "evaluation/oracle_predictions.h"

#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace ovseg {
namespace {

absl::flat_hash_map<int, bool> ThingById(const std::vector<CocoCategory>& categories) {
  absl::flat_hash_map<int, bool> thing;
  for (const CocoCategory& c : categories) thing[c.category.id] = c.category.isthing;
  return thing;
}

// Gives `segments[i]` the category `category[i]` (-1: drop) and rewrites `ids`: dropped
// segments become VOID and stuff segments of one category take the first one's id.
void Relabel(const std::vector<int>& category, const std::vector<CocoCategory>& categories,
             PanopticImage* image) {
  const absl::flat_hash_map<int, bool> thing = ThingById(categories);
  absl::flat_hash_map<uint32_t, uint32_t> new_id;  // old segment id -> new id (0 = VOID)
  std::map<int, uint32_t> stuff_id;                // category -> the id its stuff took
  std::vector<PanopticSegment> kept;
  for (size_t i = 0; i < image->segments.size(); ++i) {
    PanopticSegment s = image->segments[i];
    if (category[i] < 0) {
      new_id[s.id] = 0;
      continue;
    }
    s.category_id = category[i];
    const auto t = thing.find(s.category_id);
    if (t != thing.end() && !t->second) {
      const auto [it, inserted] = stuff_id.emplace(s.category_id, s.id);
      new_id[s.id] = it->second;
      if (!inserted) continue;
    } else {
      new_id[s.id] = s.id;
    }
    s.iscrowd = false;
    kept.push_back(s);
  }
  for (uint32_t& id : image->ids) {
    const auto it = new_id.find(id);
    if (it != new_id.end()) id = it->second;
  }
  image->segments = std::move(kept);
  KeepVisibleSegments(image->width, image->height, image->ids, &image->segments);
}

}  // namespace

std::vector<int> MajorityCategories(const PanopticImage& gt,
                                    const std::vector<int32_t>& category_map) {
  absl::flat_hash_map<uint32_t, size_t> index;
  for (size_t s = 0; s < gt.segments.size(); ++s) index[gt.segments[s].id] = s;
  std::vector<std::map<int, int64_t>> votes(gt.segments.size());
  for (size_t p = 0; p < gt.ids.size() && p < category_map.size(); ++p) {
    const auto it = index.find(gt.ids[p]);
    if (it == index.end() || category_map[p] < 0) continue;
    ++votes[it->second][category_map[p]];
  }
  std::vector<int> out(gt.segments.size(), -1);
  for (size_t s = 0; s < votes.size(); ++s) {
    int64_t best = 0;
    for (const auto& [category, n] : votes[s]) {  // ascending ids: ties keep the smaller
      if (n > best) {
        best = n;
        out[s] = category;
      }
    }
  }
  return out;
}

PanopticImage OracleMaskPrediction(const PanopticImage& gt, const std::vector<int>& predicted,
                                   const std::vector<CocoCategory>& categories) {
  PanopticImage out = gt;
  Relabel(predicted, categories, &out);
  return out;
}

absl::StatusOr<PanopticImage> OracleClassPrediction(const PanopticImage& gt,
                                                    const PanopticImage& prediction,
                                                    const std::vector<CocoCategory>& categories) {
  if (gt.width != prediction.width || gt.height != prediction.height ||
      gt.ids.size() != prediction.ids.size()) {
    return absl::InvalidArgumentError(absl::StrCat(prediction.name, ": ", prediction.width, "x",
                                                   prediction.height, " prediction for a ",
                                                   gt.width, "x", gt.height, " ground truth"));
  }
  absl::flat_hash_map<uint32_t, size_t> gt_index, pred_index;
  for (size_t s = 0; s < gt.segments.size(); ++s) gt_index[gt.segments[s].id] = s;
  for (size_t s = 0; s < prediction.segments.size(); ++s) pred_index[prediction.segments[s].id] = s;
  std::vector<int64_t> gt_area(gt.segments.size(), 0), pred_area(prediction.segments.size(), 0);
  std::map<std::pair<size_t, size_t>, int64_t> inter;  // (pred, gt) -> pixels
  for (size_t p = 0; p < gt.ids.size(); ++p) {
    const auto g = gt_index.find(gt.ids[p]);
    const auto q = pred_index.find(prediction.ids[p]);
    if (g != gt_index.end()) ++gt_area[g->second];
    if (q != pred_index.end()) ++pred_area[q->second];
    if (g != gt_index.end() && q != pred_index.end()) ++inter[{q->second, g->second}];
  }
  std::vector<double> best_iou(prediction.segments.size(), 0.0);
  std::vector<int> category(prediction.segments.size(), -1);
  for (const auto& [pair, n] : inter) {
    const auto [q, g] = pair;
    const double iou = static_cast<double>(n) / static_cast<double>(pred_area[q] + gt_area[g] - n);
    if (iou > best_iou[q]) {
      best_iou[q] = iou;
      category[q] = gt.segments[g].category_id;
    }
  }
  PanopticImage out = prediction;
  Relabel(category, categories, &out);
  return out;
}

std::vector<int32_t> SemanticFromPanoptic(const PanopticImage& image,
                                          const std::vector<CocoCategory>& categories,
                                          int32_t none) {
  absl::flat_hash_map<int, int32_t> index_of;
  for (size_t i = 0; i < categories.size(); ++i)
    index_of[categories[i].category.id] = static_cast<int32_t>(i);
  absl::flat_hash_map<uint32_t, int32_t> class_of;
  for (const PanopticSegment& s : image.segments) {
    const auto it = index_of.find(s.category_id);
    class_of[s.id] = it == index_of.end() ? none : it->second;
  }
  std::vector<int32_t> out(image.ids.size(), none);
  for (size_t p = 0; p < image.ids.size(); ++p) {
    const auto it = class_of.find(image.ids[p]);
    if (it != class_of.end()) out[p] = it->second;
  }
  return out;
}

}  // namespace ovseg
