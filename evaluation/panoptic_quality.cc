#include "evaluation/panoptic_quality.h"

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace ovseg {
namespace {

constexpr uint32_t kVoid = 0;

// (ground-truth id, predicted id) as one key; ids are below 2^24 (three PNG channels).
uint64_t PairKey(uint32_t gt, uint32_t pred) { return (uint64_t{gt} << 24) | pred; }

PqScores Average(const std::vector<PanopticCategory>& categories,
                 const std::map<int, PqCategoryStats>& stats, int isthing /* -1: all */,
                 std::map<int, PqScores>* per_class) {
  PqScores sum;
  for (const PanopticCategory& c : categories) {
    if (isthing >= 0 && c.isthing != (isthing == 1)) continue;
    const auto it = stats.find(c.id);
    const PqCategoryStats s = it == stats.end() ? PqCategoryStats{} : it->second;
    PqScores one;
    if (s.tp + s.fp + s.fn > 0) {
      const double denominator = s.tp + 0.5 * s.fp + 0.5 * s.fn;
      one.pq = s.iou / denominator;
      one.sq = s.tp != 0 ? s.iou / s.tp : 0.0;
      one.rq = s.tp / denominator;
      one.n = 1;
      sum.pq += one.pq;
      sum.sq += one.sq;
      sum.rq += one.rq;
      sum.n += 1;
    }
    if (per_class != nullptr) (*per_class)[c.id] = one;
  }
  // panopticapi divides by zero here; an empty group reads 0 with n = 0.
  if (sum.n > 0) {
    sum.pq /= sum.n;
    sum.sq /= sum.n;
    sum.rq /= sum.n;
  }
  return sum;
}

}  // namespace

PanopticQuality::PanopticQuality(std::vector<PanopticCategory> categories)
    : categories_(std::move(categories)) {}

absl::Status PanopticQuality::Add(const PanopticImage& gt, const PanopticImage& pred) {
  if (gt.width != pred.width || gt.height != pred.height) {
    return absl::InvalidArgumentError(absl::StrCat("prediction ", pred.name, " is ", pred.width,
                                                   "x", pred.height, ", ground truth ", gt.name,
                                                   " is ", gt.width, "x", gt.height));
  }
  absl::flat_hash_set<int> known_categories;
  for (const PanopticCategory& c : categories_) known_categories.insert(c.id);
  absl::flat_hash_map<uint32_t, PanopticSegment> gt_segments, pred_segments;
  for (const PanopticSegment& s : gt.segments) gt_segments[s.id] = s;
  for (const PanopticSegment& s : pred.segments) pred_segments[s.id] = s;

  // Predicted areas from the PNG, with panopticapi's sanity checks.
  absl::flat_hash_map<uint32_t, int64_t> pred_area;
  for (uint32_t id : pred.ids) ++pred_area[id];
  for (const auto& [id, area] : pred_area) {
    if (id == kVoid) continue;
    auto it = pred_segments.find(id);
    if (it == pred_segments.end()) {
      return absl::InvalidArgumentError(absl::StrCat("prediction ", pred.name, ": segment id ", id,
                                                     " is in the PNG but not in the JSON"));
    }
    it->second.area = area;
    if (!known_categories.contains(it->second.category_id)) {
      return absl::InvalidArgumentError(absl::StrCat("prediction ", pred.name, ": segment id ", id,
                                                     " has unknown category_id ",
                                                     it->second.category_id));
    }
  }
  for (const auto& [id, segment] : pred_segments) {
    if (!pred_area.contains(id)) {
      return absl::InvalidArgumentError(absl::StrCat("prediction ", pred.name, ": segment id ", id,
                                                     " is in the JSON but not in the PNG"));
    }
  }

  absl::flat_hash_map<uint64_t, int64_t> intersections;
  for (size_t p = 0; p < gt.ids.size(); ++p) ++intersections[PairKey(gt.ids[p], pred.ids[p])];
  auto intersection = [&](uint32_t g, uint32_t q) -> int64_t {
    const auto it = intersections.find(PairKey(g, q));
    return it == intersections.end() ? 0 : it->second;
  };

  absl::flat_hash_set<uint32_t> gt_matched, pred_matched;
  for (const auto& [key, inter] : intersections) {
    const uint32_t g = static_cast<uint32_t>(key >> 24), q = static_cast<uint32_t>(key & 0xFFFFFF);
    const auto gi = gt_segments.find(g);
    const auto qi = pred_segments.find(q);
    if (gi == gt_segments.end() || qi == pred_segments.end()) continue;
    if (gi->second.iscrowd || gi->second.category_id != qi->second.category_id) continue;
    const int64_t unions = qi->second.area + gi->second.area - inter - intersection(kVoid, q);
    const double iou = static_cast<double>(inter) / static_cast<double>(unions);
    if (iou > 0.5) {
      PqCategoryStats& s = stats_[gi->second.category_id];
      s.tp += 1;
      s.iou += iou;
      gt_matched.insert(g);
      pred_matched.insert(q);
    }
  }
  // False negatives, and one crowd region per category (the JSON's last, as panopticapi).
  std::map<int, uint32_t> crowd_of_category;
  for (const PanopticSegment& s : gt.segments) {
    if (s.iscrowd) crowd_of_category[s.category_id] = s.id;  // crowd never matches
  }
  for (const auto& [id, s] : gt_segments) {
    if (!gt_matched.contains(id) && !s.iscrowd) stats_[s.category_id].fn += 1;
  }
  for (const auto& [id, s] : pred_segments) {
    if (pred_matched.contains(id)) continue;
    int64_t ignored = intersection(kVoid, id);
    const auto crowd = crowd_of_category.find(s.category_id);
    if (crowd != crowd_of_category.end()) ignored += intersection(crowd->second, id);
    if (static_cast<double>(ignored) / static_cast<double>(s.area) > 0.5) continue;
    stats_[s.category_id].fp += 1;
  }
  return absl::OkStatus();
}

void PanopticQuality::Merge(const PanopticQuality& other) {
  for (const auto& [category, s] : other.stats_) {
    PqCategoryStats& mine = stats_[category];
    mine.iou += s.iou;
    mine.tp += s.tp;
    mine.fp += s.fp;
    mine.fn += s.fn;
  }
}

PqReport PanopticQuality::Report() const {
  PqReport report;
  report.all = Average(categories_, stats_, -1, &report.per_class);
  report.things = Average(categories_, stats_, 1, nullptr);
  report.stuff = Average(categories_, stats_, 0, nullptr);
  return report;
}

}  // namespace ovseg
