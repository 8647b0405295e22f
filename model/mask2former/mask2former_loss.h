// Mask2Former's training losses in their class-agnostic use (ovseg trains generators that
// only tell objects from void) and with classes: per prediction stage, queries are
// Hungarian-matched to ground-truth segments on a cost of mask BCE + dice (on uniformly
// sampled points) + class probability, then
//   - class/objectness cross-entropy over all queries, unmatched ones targeting void,
//     void weighted by `no_object_weight`; optionally (`unannotated_overlap`) an unmatched
//     query whose predicted mask lies mostly in the image's unannotated pixels
//     (SegmentTargets::unannotated) is left out, so that objects nobody labelled are not
//     taught to be background;
//   - mask BCE and dice of matched queries on points sampled by uncertainty (importance
//     sampling, as PointRend/Mask2Former) or uniformly;
// each averaged over the batch's target count and weighted 2 / 5 / 5, summed over every
// stage (deep supervision). Follows HuggingFace's Mask2FormerLoss and matcher.
#ifndef OVSEG_MODEL_MASK2FORMER_MASK2FORMER_LOSS_H_
#define OVSEG_MODEL_MASK2FORMER_MASK2FORMER_LOSS_H_

#include <torch/torch.h>

#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "model/mask2former/masked_attention_decoder.h"

namespace ovseg {

struct Mask2FormerLossOptions {
  double class_weight = 2.0;
  double mask_weight = 5.0;
  double dice_weight = 5.0;
  double no_object_weight = 0.1;
  int64_t num_points = 12544;  // 112 x 112
  bool importance_sampling = true;
  double oversample_ratio = 3.0;
  double importance_sample_ratio = 0.75;
  // An unmatched query is left out of the classification loss when more than this share
  // of its predicted mask (logit > 0) is unannotated; > 1 (the default, Mask2Former's
  // training) turns the rule off.
  double unannotated_overlap = 2.0;
};

// One image's ground truth.
struct SegmentTargets {
  torch::Tensor masks;   // [N, H, W], 0/1 (any dtype), any resolution (points are relative)
  torch::Tensor labels;  // [N] int64 in [0, num_classes); all 0 for class-agnostic training
  // Optional [H', W'] 0/1, any resolution: image content no segment annotates (an
  // open-vocabulary training split's unseen classes are VOID). Undefined: none.
  torch::Tensor unannotated;
};

struct Mask2FormerLosses {
  torch::Tensor total;                                // weighted sum over terms and stages
  torch::Tensor classification, mask_bce, mask_dice;  // unweighted, summed over stages
};

// Bilinear samples of `maps` [N, H, W] at `points` [N, P, 2] ((x, y) in [0, 1],
// align_corners=false, zeros outside): [N, P].
torch::Tensor SamplePoints(const torch::Tensor& maps, const torch::Tensor& points);

// Pairwise costs [Q, T] of mask logits [Q, P] against targets [T, P] on the same points.
torch::Tensor PairwiseMaskBce(const torch::Tensor& logits, const torch::Tensor& targets);
torch::Tensor PairwiseDice(const torch::Tensor& logits, const torch::Tensor& targets);

// For one image and one stage: matched (query, target) pairs, by target. `generator`
// drives the point sampling.
absl::StatusOr<std::vector<std::pair<int64_t, int64_t>>> MatchQueries(
    const torch::Tensor& class_logits, const torch::Tensor& mask_logits,
    const SegmentTargets& targets, const Mask2FormerLossOptions& options,
    std::optional<at::Generator> generator = std::nullopt);

// predictions: every stage, class logits and mask logits defined ([B, Q, C+1], [B, Q, h, w]).
absl::StatusOr<Mask2FormerLosses> ComputeMask2FormerLoss(
    const std::vector<MaskPrediction>& predictions, const std::vector<SegmentTargets>& targets,
    const Mask2FormerLossOptions& options, std::optional<at::Generator> generator = std::nullopt);

}  // namespace ovseg

#endif  // OVSEG_MODEL_MASK2FORMER_MASK2FORMER_LOSS_H_
