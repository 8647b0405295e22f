// Semantic segmentation metrics exactly as detectron2's SemSegEvaluator: a confusion
// matrix of (prediction, ground truth) over N classes plus one row and column for ignored
// pixels; from its N x N part, per class IoU = TP / (GT + PRED - TP) and accuracy
// TP / GT, both undefined (NaN, JSON null) for classes absent from the ground truth;
// mIoU and mACC average the defined ones, fwIoU weights IoU by the class's share of
// ground-truth pixels, pACC = sum TP / sum GT.
#ifndef OVSEG_EVALUATION_SEMANTIC_METRICS_H_
#define OVSEG_EVALUATION_SEMANTIC_METRICS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace ovseg {

struct SemanticReport {
  double miou = 0, fwiou = 0, macc = 0, pacc = 0;  // fractions (the CLI prints percent)
  std::vector<double> iou, acc;                    // per class; NaN where undefined
};

class SemanticMetrics {
 public:
  SemanticMetrics(int num_classes, int ignore_label);

  // Label maps of one image, row-major, same size. Ground truth: class index or the
  // ignore label; a ground-truth value that is neither, or a prediction outside
  // [0, num_classes), is an error naming `name` and the value (detectron2 would index out
  // of its matrix). The one exception is kNoPrediction, a pixel a server left unlabelled
  // (detectron2's argmax never does): it counts as a miss of its ground-truth class.
  static constexpr int32_t kNoPrediction = -1;
  absl::Status Add(const std::string& name, const std::vector<int32_t>& prediction,
                   const std::vector<int32_t>& ground_truth);
  void Merge(const SemanticMetrics& other);
  SemanticReport Report() const;
  int num_classes() const { return num_classes_; }
  // (N + 1) x (N + 1), row = prediction, column = ground truth; index N = ignored.
  const std::vector<int64_t>& confusion() const { return confusion_; }

 private:
  int num_classes_, ignore_label_;
  std::vector<int64_t> confusion_;
  std::vector<int64_t> unpredicted_;  // per ground-truth class: kNoPrediction pixels
};

}  // namespace ovseg

#endif  // OVSEG_EVALUATION_SEMANTIC_METRICS_H_
