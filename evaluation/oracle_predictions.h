// The two oracles of FOV-Seg's analysis (Sec. III, Fig. 2a; Table IV(j)), as predictions
// scored like any other:
// - oracle mask generator: the ground-truth segments are the masks, the model names them
//   (OracleMaskPrediction);
// - oracle classifier: the model's masks, each named by the ground truth
//   (OracleClassPrediction).
// Stuff segments that end with the same category are merged into one, as MaskFormer's
// panoptic inference merges stuff per class (else panopticapi counts the parts beyond
// the first as false positives, which neither oracle is about).
#ifndef OVSEG_EVALUATION_ORACLE_PREDICTIONS_H_
#define OVSEG_EVALUATION_ORACLE_PREDICTIONS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "datasets/coco_panoptic.h"

namespace ovseg {

// Per ground-truth segment (gt.segments order): the category most of its pixels have in
// `category_map` (per pixel a category id, or a negative value for none; ties go to the
// smaller id), or -1 when none of its pixels has one.
std::vector<int> MajorityCategories(const PanopticImage& gt,
                                    const std::vector<int32_t>& category_map);

// The ground truth's segments with `predicted` categories (-1: dropped, its pixels VOID).
PanopticImage OracleMaskPrediction(const PanopticImage& gt, const std::vector<int>& predicted,
                                   const std::vector<CocoCategory>& categories);

// `prediction`'s segments, each with the category of the ground-truth segment it overlaps
// with the largest IoU (crowd segments included; VOID is no segment); a predicted segment
// that overlaps no ground-truth segment is dropped (its pixels VOID), as an oracle would
// reject it. Sizes must match.
absl::StatusOr<PanopticImage> OracleClassPrediction(const PanopticImage& gt,
                                                    const PanopticImage& prediction,
                                                    const std::vector<CocoCategory>& categories);

// Per pixel, the index (in `categories`) of its segment's category; pixels on VOID or on
// a segment of an unknown category get `none`.
std::vector<int32_t> SemanticFromPanoptic(const PanopticImage& image,
                                          const std::vector<CocoCategory>& categories,
                                          int32_t none);

}  // namespace ovseg

#endif  // OVSEG_EVALUATION_ORACLE_PREDICTIONS_H_
