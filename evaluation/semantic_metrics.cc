#include "evaluation/semantic_metrics.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace ovseg {

SemanticMetrics::SemanticMetrics(int num_classes, int ignore_label)
    : num_classes_(num_classes),
      ignore_label_(ignore_label),
      confusion_(static_cast<size_t>(num_classes + 1) * (num_classes + 1), 0),
      unpredicted_(static_cast<size_t>(num_classes), 0) {}

absl::Status SemanticMetrics::Add(const std::string& name, const std::vector<int32_t>& prediction,
                                  const std::vector<int32_t>& ground_truth) {
  if (prediction.size() != ground_truth.size()) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": prediction has ", prediction.size(),
                                                   " pixels, ground truth ", ground_truth.size()));
  }
  const int64_t n = num_classes_;
  std::vector<int64_t> counts(confusion_.size(), 0), unpredicted(unpredicted_.size(), 0);
  for (size_t p = 0; p < prediction.size(); ++p) {
    const int32_t q = prediction[p];
    int32_t g = ground_truth[p];
    if (q == kNoPrediction && g != ignore_label_ && g >= 0 && g < num_classes_) {
      ++unpredicted[static_cast<size_t>(g)];
      continue;
    }
    if (q == kNoPrediction && g == ignore_label_) continue;
    if (q < 0 || q >= num_classes_) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": predicted value ", q, " is outside 0..", num_classes_ - 1));
    }
    if (g == ignore_label_) {
      g = num_classes_;
    } else if (g < 0 || g >= num_classes_) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": ground-truth value ", g,
                                                     " is neither a class (0..", num_classes_ - 1,
                                                     ") nor the ignore label ", ignore_label_));
    }
    ++counts[static_cast<size_t>(q * (n + 1) + g)];
  }
  for (size_t i = 0; i < counts.size(); ++i) confusion_[i] += counts[i];
  for (size_t c = 0; c < unpredicted.size(); ++c) unpredicted_[c] += unpredicted[c];
  return absl::OkStatus();
}

void SemanticMetrics::Merge(const SemanticMetrics& other) {
  for (size_t i = 0; i < confusion_.size(); ++i) confusion_[i] += other.confusion_[i];
  for (size_t c = 0; c < unpredicted_.size(); ++c) unpredicted_[c] += other.unpredicted_[c];
}

SemanticReport SemanticMetrics::Report() const {
  const int n = num_classes_;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto at = [&](int pred, int gt) { return static_cast<double>(confusion_[pred * (n + 1) + gt]); };
  std::vector<double> tp(n), pos_gt(n, 0.0), pos_pred(n, 0.0);
  double total_gt = 0;
  for (int c = 0; c < n; ++c) {
    tp[c] = at(c, c);
    for (int other = 0; other < n; ++other) {
      pos_gt[c] += at(other, c);
      pos_pred[c] += at(c, other);
    }
    pos_gt[c] += static_cast<double>(unpredicted_[c]);  // missed, predicted as nothing
    total_gt += pos_gt[c];
  }
  SemanticReport r;
  r.iou.assign(n, nan);
  r.acc.assign(n, nan);
  double sum_acc = 0, sum_iou = 0, fw = 0, sum_tp = 0;
  int n_acc = 0, n_iou = 0;
  for (int c = 0; c < n; ++c) {
    sum_tp += tp[c];
    if (pos_gt[c] <= 0) continue;
    r.acc[c] = tp[c] / pos_gt[c];
    sum_acc += r.acc[c];
    ++n_acc;
    const double unions = pos_gt[c] + pos_pred[c] - tp[c];
    if (unions <= 0) continue;
    r.iou[c] = tp[c] / unions;
    sum_iou += r.iou[c];
    fw += r.iou[c] * pos_gt[c] / total_gt;
    ++n_iou;
  }
  // detectron2 divides 0 by 0 (NaN) when no class has ground truth.
  r.macc = n_acc > 0 ? sum_acc / n_acc : nan;
  r.miou = n_iou > 0 ? sum_iou / n_iou : nan;
  r.fwiou = fw;  // an empty sum, 0, as detectron2's
  r.pacc = total_gt > 0 ? sum_tp / total_gt : nan;
  return r;
}

}  // namespace ovseg
