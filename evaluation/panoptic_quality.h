// Panoptic quality exactly as cocodataset/panopticapi's pq_compute (docs/design.md "Metrics
// definitions"), one image pair at a time:
// - a ground-truth and a predicted segment of the same category match when their IoU is
//   strictly above 0.5, where the union leaves out the prediction's pixels on VOID (id 0);
//   crowd ground truth never matches;
// - ground-truth areas come from the annotation JSON, predicted areas from the PNG;
// - an unmatched ground-truth segment (not crowd) is a false negative; an unmatched
//   prediction is a false positive unless more than half of it lies on VOID or on the
//   crowd region of its category (the last crowd segment of that category in the JSON,
//   as panopticapi keeps one per category);
// - PQ = sum IoU / (TP + FP/2 + FN/2), SQ = sum IoU / TP, RQ = TP / (TP + FP/2 + FN/2) per
//   category, averaged over the categories with TP + FP + FN > 0 (all, things, stuff).
// Where panopticapi would raise (a PNG id absent from the JSON, a JSON segment absent from
// the PNG, an unknown category), Add() returns an error naming the image and the id.
#ifndef OVSEG_EVALUATION_PANOPTIC_QUALITY_H_
#define OVSEG_EVALUATION_PANOPTIC_QUALITY_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace ovseg {

struct PanopticCategory {
  int id = 0;
  std::string name;
  bool isthing = false;
};

struct PanopticSegment {
  uint32_t id = 0;
  int category_id = 0;
  bool iscrowd = false;
  int64_t area = 0;            // ground truth: from the JSON; predictions: recomputed from the PNG
  int bbox[4] = {0, 0, 0, 0};  // x, y, width, height (the JSON's; not used by PQ)
};

// One image's segmentation: per pixel, R + 256 G + 256^2 B of the PNG (0 = VOID).
struct PanopticImage {
  std::string name;  // for error messages (the PNG's file name)
  int width = 0, height = 0;
  std::vector<uint32_t> ids;
  std::vector<PanopticSegment> segments;  // in the JSON's order
};

struct PqCategoryStats {
  double iou = 0;
  int64_t tp = 0, fp = 0, fn = 0;
};

struct PqScores {
  double pq = 0, sq = 0, rq = 0;
  int n = 0;  // categories averaged
};

struct PqReport {
  PqScores all, things, stuff;
  std::map<int, PqScores> per_class;  // every category; n = 1 when it counted, 0 when not
};

class PanopticQuality {
 public:
  explicit PanopticQuality(std::vector<PanopticCategory> categories);

  absl::Status Add(const PanopticImage& ground_truth, const PanopticImage& prediction);
  // Accumulates another evaluator's counts (e.g. from another thread).
  void Merge(const PanopticQuality& other);
  PqReport Report() const;
  const std::map<int, PqCategoryStats>& stats() const { return stats_; }
  const std::vector<PanopticCategory>& categories() const { return categories_; }

 private:
  std::vector<PanopticCategory> categories_;
  std::map<int, PqCategoryStats> stats_;
};

}  // namespace ovseg

#endif  // OVSEG_EVALUATION_PANOPTIC_QUALITY_H_
