// Scoring of prediction files against ground truth files, as `ovseg-eval` does for any
// system's output: COCO panoptic on both sides (images paired by image_id), or label PNGs
// paired by file name. Images are read and scored on `threads` threads; the reports are
// JSON in percent, as panopticapi and detectron2 print them.
#ifndef OVSEG_EVALUATION_FILE_EVALUATION_H_
#define OVSEG_EVALUATION_FILE_EVALUATION_H_

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "common/progress.h"
#include "evaluation/panoptic_quality.h"
#include "evaluation/semantic_metrics.h"

namespace ovseg {

struct PanopticFiles {
  std::string gt_json, gt_dir, pred_json, pred_dir;
};

absl::StatusOr<PanopticQuality> EvaluatePanopticFiles(const PanopticFiles& files, int threads,
                                                      Progress* progress = nullptr);

struct SemanticFiles {
  std::string gt_dir, pred_dir;
  int num_classes = 0;
  // Unlabelled value; negative (default): by the maps' bit depth, 255 or 65535.
  int ignore_label = -1;
};

absl::StatusOr<SemanticMetrics> EvaluateSemanticFiles(const SemanticFiles& files, int threads,
                                                      Progress* progress = nullptr);

// {"All"|"Things"|"Stuff": {"PQ", "SQ", "RQ", "N"}, "per_class": {"<id>": {"name", "PQ",
// "SQ", "RQ"}}}, percent.
nlohmann::json PanopticReportJson(const PanopticQuality& pq);
// {"mIoU", "fwIoU", "mACC", "pACC", "IoU": {"<class>": value | null}, "ACC": {...}},
// percent; null where detectron2 has NaN.
nlohmann::json SemanticReportJson(const SemanticMetrics& metrics);
// The table panopticapi prints.
std::string PanopticReportTable(const PanopticQuality& pq);

}  // namespace ovseg

#endif  // OVSEG_EVALUATION_FILE_EVALUATION_H_
