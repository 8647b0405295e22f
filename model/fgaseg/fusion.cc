#include "model/fgaseg/fusion.h"

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
  const torch::Tensor logits = class_logits.to(torch::kFloat32);
  const torch::Tensor log_all = torch::log_softmax(logits, -1);
  const torch::Tensor log_void = log_all.narrow(1, t, 1);
  const torch::Tensor log_not_void = torch::logsumexp(log_all.narrow(1, 0, t), 1, true);
  const torch::Tensor p_cls = torch::softmax(logits.narrow(1, 0, t), -1);
  torch::Tensor pooled = PoolInsideMasks(dense_probs, masks);
  pooled = pooled / pooled.sum(1, /*keepdim=*/true).clamp_min(1e-12);
  const torch::Tensor has_area = masks.to(torch::kFloat32).flatten(1).sum(1, true) > 0;
  torch::Tensor w = torch::where(seen.to(torch::kBool), torch::full({t}, options.seen_weight),
                                 torch::full({t}, options.unseen_weight))
                        .view({1, t});
  w = w * has_area;  // nothing to pool: the classifier alone
  constexpr double kTiny = 1e-8;
  const torch::Tensor log_fused = (1 - w) * (p_cls + kTiny).log() + w * (pooled + kTiny).log();
  return torch::cat({torch::log_softmax(log_fused, -1) + log_not_void, log_void}, 1);
}

torch::Tensor FuseClassProbabilities(const torch::Tensor& class_logits,
                                     const torch::Tensor& dense_probs, const torch::Tensor& masks,
                                     const torch::Tensor& seen, const FusionOptions& options) {
  return FuseClassLogProbabilities(class_logits, dense_probs, masks, seen, options).exp();
}

}  // namespace ovseg
