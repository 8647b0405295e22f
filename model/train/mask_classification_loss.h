// FOV-Seg's L_CE (docs/design.md "FiSeR", total loss), with MaskCLIP's and Mask2Former's
// matching: the frozen generator's proposals are Hungarian-matched to the ground-truth
// segments with Mask2Former's cost, class_weight x (-p(segment's class)) + mask_weight x
// mean sigmoid BCE + dice_weight x Dice (2, 5, 5); a matched proposal learns its segment's
// class, every other proposal learns void, and the void class weighs void_weight in the
// cross-entropy (Mask2Former's eos_coef 0.1, MaskCLIP's 0, FovSegTrainerOptions' 0). A
// matched pair whose binarised masks do not overlap at all, or whose IoU is below
// `min_iou` (default 0: Hungarian alone decides), also learns void: a proposal cannot be a
// class it misses.
#ifndef OVSEG_MODEL_TRAIN_MASK_CLASSIFICATION_LOSS_H_
#define OVSEG_MODEL_TRAIN_MASK_CLASSIFICATION_LOSS_H_

#include <torch/torch.h>

#include <vector>

#include "absl/status/statusor.h"

namespace ovseg {

inline constexpr int64_t kVoidTarget = -1;

struct MatchingCost {
  double class_weight = 2.0;
  double mask_weight = 5.0;  // sigmoid binary cross-entropy, mean over pixels
  double dice_weight = 5.0;
  double min_iou = 0.0;
};

// proposal_logits [N, H, W] (> 0 inside), segment_masks [G, H, W] (bool or 0/1) at the
// same size, segment_classes [G]; class_probs [N, C] (softmax over the classes and void;
// undefined: no class term). Returns N targets: a class index or kVoidTarget.
absl::StatusOr<std::vector<int64_t>> MatchProposalsToSegments(
    const torch::Tensor& proposal_logits, const torch::Tensor& segment_masks,
    const std::vector<int64_t>& segment_classes, const MatchingCost& cost = {},
    const torch::Tensor& class_probs = {});

// class_logits [B, N, T + 1] (void last; padded classes -inf), targets [B, N] long
// (class index or kVoidTarget), proposal_valid [B, N] bool. Cross-entropy over the valid
// proposals, void targets weighted by void_weight, normalised by the sum of the targets'
// weights (PyTorch's weighted mean, as Mask2Former).
torch::Tensor MaskClassificationLoss(const torch::Tensor& class_logits,
                                     const torch::Tensor& targets,
                                     const torch::Tensor& proposal_valid, double void_weight);

}  // namespace ovseg

#endif  // OVSEG_MODEL_TRAIN_MASK_CLASSIFICATION_LOSS_H_
