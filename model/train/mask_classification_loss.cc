#include "model/train/mask_classification_loss.h"

#include "absl/strings/str_cat.h"
#include "model/matching/linear_assignment.h"

namespace ovseg {
namespace F = torch::nn::functional;

absl::StatusOr<std::vector<int64_t>> MatchProposalsToSegments(
    const torch::Tensor& proposal_logits, const torch::Tensor& segment_masks,
    const std::vector<int64_t>& segment_classes, const MatchingCost& weights,
    const torch::Tensor& class_probs) {
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
  if (class_probs.defined() && class_probs.size(0) != n) {
    return absl::InvalidArgumentError(
        absl::StrCat(n, " proposals but class probabilities for ", class_probs.size(0)));
  }
  const torch::Tensor x = proposal_logits.to(torch::kFloat32).flatten(1);  // [N, HW]
  const torch::Tensor p = (x > 0).to(torch::kFloat32);
  const torch::Tensor s = segment_masks.to(torch::kBool).flatten(1).to(torch::kFloat32);
  const torch::Tensor inter = torch::matmul(s, p.t());  // [G, N]
  const torch::Tensor unions = s.sum(1, true) + p.sum(1).unsqueeze(0) - inter;
  const torch::Tensor iou = (inter / unions.clamp_min(1.0)).to(torch::kFloat64).contiguous();
  // Mask2Former's batch_sigmoid_ce_loss and batch_dice_loss, as [G, N] matrices.
  const double pixels = static_cast<double>(x.size(1));
  const torch::Tensor pos = F::binary_cross_entropy_with_logits(
      x, torch::ones_like(x), F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone));
  const torch::Tensor neg = F::binary_cross_entropy_with_logits(
      x, torch::zeros_like(x),
      F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone));
  const torch::Tensor bce = (torch::matmul(s, pos.t()) + torch::matmul(1 - s, neg.t())) / pixels;
  const torch::Tensor prob = torch::sigmoid(x);
  const torch::Tensor dice =
      1 - (2 * torch::matmul(s, prob.t()) + 1) / (s.sum(1, true) + prob.sum(1).unsqueeze(0) + 1);
  torch::Tensor c = weights.mask_weight * bce + weights.dice_weight * dice;
  if (class_probs.defined() && weights.class_weight != 0) {
    const torch::Tensor classes = torch::tensor(segment_classes, torch::kLong);
    // [G, N]: minus each proposal's probability of each segment's class.
    c = c - weights.class_weight *
                class_probs.to(torch::kCPU, torch::kFloat32).index_select(1, classes).t();
  }
  const torch::Tensor cost = c.to(torch::kFloat64).contiguous();
  absl::StatusOr<Assignment> a =
      SolveLinearAssignment(absl::MakeConstSpan(cost.data_ptr<double>(), g * n), g, n);
  if (!a.ok()) return a.status();
  for (size_t k = 0; k < a->rows.size(); ++k) {
    const int64_t seg = a->rows[k], proposal = a->cols[k];
    const double overlap = iou[seg][proposal].item<double>();
    if (overlap > 0.0 && overlap >= weights.min_iou) {
      targets[static_cast<size_t>(proposal)] = segment_classes[static_cast<size_t>(seg)];
    }
  }
  return targets;
}

torch::Tensor MaskClassificationLoss(const torch::Tensor& class_logits,
                                     const torch::Tensor& targets,
                                     const torch::Tensor& proposal_valid, double void_weight) {
  const int64_t void_index = class_logits.size(2) - 1;
  torch::Tensor weight = torch::ones({class_logits.size(2)}, torch::kFloat32);
  weight[void_index] = void_weight;
  const torch::Tensor t =
      torch::where(targets == kVoidTarget, torch::full_like(targets, void_index), targets);
  const torch::Tensor valid = proposal_valid.to(torch::kBool).flatten();
  const torch::Tensor logits = class_logits.to(torch::kFloat32).flatten(0, 1).index({valid});
  const torch::Tensor chosen = t.flatten().index({valid});
  // With void_weight 0 and nothing but void targets the weighted mean is 0 / 0: no signal.
  if (void_weight == 0 && (chosen != void_index).sum().item<int64_t>() == 0) {
    return logits.sum() * 0.0;
  }
  return F::cross_entropy(logits, chosen,
                          F::CrossEntropyFuncOptions().weight(weight.to(logits.device())));
}

}  // namespace ovseg
