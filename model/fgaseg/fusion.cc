#include "model/fgaseg/fusion.h"

#include "model/teva/crop_classifier.h"

namespace ovseg {

torch::Tensor PoolInsideMasks(const torch::Tensor& dense_probs, const torch::Tensor& masks) {
  const torch::Tensor m = masks.to(torch::kFloat32).flatten(1);        // [N, HW]
  const torch::Tensor d = dense_probs.to(torch::kFloat32).flatten(1);  // [T, HW]
  const torch::Tensor area = m.sum(1, /*keepdim=*/true);
  return torch::matmul(m, d.t()) / area.clamp_min(1e-6) * (area > 0);
}

torch::Tensor FuseClassLogProbabilities(const torch::Tensor& class_logits,
                                        const torch::Tensor& dense_probs,
                                        const torch::Tensor& masks, const torch::Tensor& seen,
                                        const FusionOptions& options) {
  const int64_t t = dense_probs.size(0);
  TORCH_CHECK(class_logits.size(1) == t + 1, "fusion: ", class_logits.size(1),
              " classifier logits for ", t, " classes (+ void expected)");
  const torch::Tensor pooled = PoolInsideMasks(dense_probs, masks);
  const torch::Tensor has_area = masks.to(torch::kFloat32).flatten(1).sum(1, true) > 0;
  const torch::Tensor w = torch::where(seen.to(torch::kBool), torch::full({t}, options.seen_weight),
                                       torch::full({t}, options.unseen_weight))
                              .view({1, t});
  // Nothing to pool: the classifier alone.
  return EnsembleClassLogProbabilities(class_logits, pooled, w * has_area);
}

torch::Tensor FuseClassProbabilities(const torch::Tensor& class_logits,
                                     const torch::Tensor& dense_probs, const torch::Tensor& masks,
                                     const torch::Tensor& seen, const FusionOptions& options) {
  return FuseClassLogProbabilities(class_logits, dense_probs, masks, seen, options).exp();
}

}  // namespace ovseg
