// FOV-Seg's L_CE (DESIGN.md "FiSeR", total loss): the frozen generator's proposals are
// Hungarian-matched to the ground-truth segments (cost 1 - IoU of the binarised masks);
// a matched proposal learns its segment's class, every other proposal learns void. A
// matched pair that does not overlap at all, or whose IoU is below `min_iou` (default 0:
// Hungarian alone decides), also learns void: a proposal cannot be a class it misses.
#ifndef OVSEG_MODEL_TRAIN_MASK_CLASSIFICATION_LOSS_H_
#define OVSEG_MODEL_TRAIN_MASK_CLASSIFICATION_LOSS_H_

#include <torch/torch.h>

#include <vector>

#include "absl/status/statusor.h"

namespace ovseg {

inline constexpr int64_t kVoidTarget = -1;

// proposal_logits [N, H, W] (> 0 inside), segment_masks [G, H, W] (bool or 0/1) at the
// same size, segment_classes [G]. Returns N targets: a class index or kVoidTarget.
absl::StatusOr<std::vector<int64_t>> MatchProposalsToSegments(
    const torch::Tensor& proposal_logits, const torch::Tensor& segment_masks,
    const std::vector<int64_t>& segment_classes, double min_iou = 0.0);

// class_logits [B, N, T + 1] (void last; padded classes -inf), targets [B, N] long
// (class index or kVoidTarget), proposal_valid [B, N] bool. Mean cross-entropy over the
// valid proposals.
torch::Tensor MaskClassificationLoss(const torch::Tensor& class_logits,
                                     const torch::Tensor& targets,
                                     const torch::Tensor& proposal_valid);

}  // namespace ovseg

#endif  // OVSEG_MODEL_TRAIN_MASK_CLASSIFICATION_LOSS_H_
