#include "model/train/mask_classification_loss.h"

#include "absl/strings/str_cat.h"
#include "model/matching/linear_assignment.h"

namespace ovseg {
namespace F = torch::nn::functional;

absl::StatusOr<std::vector<int64_t>> MatchProposalsToSegments(
    const torch::Tensor& proposal_logits, const torch::Tensor& segment_masks,
    const std::vector<int64_t>& segment_classes, double min_iou) {
  const int64_t n = proposal_logits.size(0), g = segment_masks.size(0);
  if (static_cast<int64_t>(segment_classes.size()) != g) {
    return absl::InvalidArgumentError(
        absl::StrCat(g, " segment masks but ", segment_classes.size(), " classes"));
  }
  if (proposal_logits.sizes().slice(1) != segment_masks.sizes().slice(1)) {
    return absl::InvalidArgumentError("proposals and segments differ in size");
  }
  std::vector<int64_t> targets(static_cast<size_t>(n), kVoidTarget);
  if (n == 0 || g == 0) return targets;
  torch::NoGradGuard no_grad;
  const torch::Tensor p = (proposal_logits > 0).flatten(1).to(torch::kFloat32);  // [N, HW]
  const torch::Tensor s = segment_masks.to(torch::kBool).flatten(1).to(torch::kFloat32);
  const torch::Tensor inter = torch::matmul(s, p.t());  // [G, N]
  const torch::Tensor unions = s.sum(1, true) + p.sum(1).unsqueeze(0) - inter;
  const torch::Tensor iou = (inter / unions.clamp_min(1.0)).to(torch::kFloat64).contiguous();
  const torch::Tensor cost = (1.0 - iou).contiguous();
  absl::StatusOr<Assignment> a =
      SolveLinearAssignment(absl::MakeConstSpan(cost.data_ptr<double>(), g * n), g, n);
  if (!a.ok()) return a.status();
  for (size_t k = 0; k < a->rows.size(); ++k) {
    const int64_t seg = a->rows[k], proposal = a->cols[k];
    if (iou[seg][proposal].item<double>() > 0.0 && iou[seg][proposal].item<double>() >= min_iou) {
      targets[static_cast<size_t>(proposal)] = segment_classes[static_cast<size_t>(seg)];
    }
  }
  return targets;
}

torch::Tensor MaskClassificationLoss(const torch::Tensor& class_logits,
                                     const torch::Tensor& targets,
                                     const torch::Tensor& proposal_valid) {
  const int64_t void_index = class_logits.size(2) - 1;
  const torch::Tensor t =
      torch::where(targets == kVoidTarget, torch::full_like(targets, void_index), targets);
  const torch::Tensor valid = proposal_valid.to(torch::kBool).flatten();
  const torch::Tensor logits = class_logits.to(torch::kFloat32).flatten(0, 1).index({valid});
  return F::cross_entropy(logits, t.flatten().index({valid}));
}

}  // namespace ovseg
