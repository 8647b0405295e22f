// Class-agnostic proposal recall (the mask generator alone, as detection papers' AR@K):
// a ground-truth segment (not crowd) is recalled at IoU t with K proposals when one of the
// first K proposals (best objectness first) covers it with IoU >= t. IoU is the plain
// pixel IoU of two binary masks (VOID pixels count like any other). Reported for
// K = 10, 50, 100 and t = 0.5, 0.75 per category group, pooled over segments, plus the
// mean best IoU with all proposals, and recall at K = 100, t = 0.5 by segment area in the
// image's pixels with COCO's buckets (small < 32^2 <= medium < 96^2 <= large), which says
// whether what the generator misses is small.
#ifndef OVSEG_EVALUATION_PROPOSAL_RECALL_H_
#define OVSEG_EVALUATION_PROPOSAL_RECALL_H_

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "absl/status/status.h"
#include "datasets/coco_panoptic.h"
#include "evaluation/category_groups.h"

namespace ovseg {

class ProposalRecall {
 public:
  static constexpr std::array<int, 3> kProposalCounts = {10, 50, 100};
  static constexpr std::array<double, 2> kIouThresholds = {0.5, 0.75};
  // Upper area bounds (pixels, exclusive) of the "small" and "medium" buckets.
  static constexpr std::array<int64_t, 2> kAreaBounds = {32 * 32, 96 * 96};

  explicit ProposalRecall(std::vector<CocoCategory> categories);

  // `proposals`: binary masks (nonzero inside) of ground_truth's size, best first.
  absl::Status Add(const PanopticImage& ground_truth,
                   const std::vector<std::vector<uint8_t>>& proposals);
  void Merge(const ProposalRecall& other);

  // {"AR@<K>_IoU<t>": GroupRatesPercent, ..., "AR@100_IoU0.50_by_area": {"small":
  //  GroupRatesPercent, "medium": ..., "large": ...}, "AR@100_IoU0.50_per_class": {name:
  //  {"hits", "count"}}, "mean_best_iou": percent over segments, "segments": n}
  nlohmann::json Report() const;

 private:
  std::vector<CocoCategory> categories_;
  std::map<int, const CocoCategory*> by_id_;
  // [K index][threshold index] -> per class hit counts.
  std::array<std::array<std::map<int, HitCount>, kIouThresholds.size()>, kProposalCounts.size()>
      hits_;
  // [area bucket] -> per class hit counts at the largest K and the first threshold.
  std::array<std::map<int, HitCount>, kAreaBounds.size() + 1> hits_by_area_;
  double best_iou_sum_ = 0;
  int64_t segments_ = 0;
};

}  // namespace ovseg

#endif  // OVSEG_EVALUATION_PROPOSAL_RECALL_H_
