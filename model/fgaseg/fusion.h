// Fusion of the two classifiers per mask proposal (docs/design.md "Fusion", after FC-CLIP's
// geometric ensemble): the FGAseg dense class probabilities are pooled inside each mask
// (weighted by the soft mask), and combined with the TeVA classifier's:
//   p(c) ∝ p_cls(c)^(1 - w_c) * p_dense(c)^w_c,   w_c = seen_weight if c was in the
//   training vocabulary, else unseen_weight,
// normalised over the classes and scaled by 1 - p_void, the classifier's void
// probability, which passes through unchanged. A mask with no area keeps the
// classifier's probabilities (nothing to pool), as FC-CLIP's valid-mask ensemble.
#ifndef OVSEG_MODEL_FGASEG_FUSION_H_
#define OVSEG_MODEL_FGASEG_FUSION_H_

#include <torch/torch.h>

namespace ovseg {

struct FusionOptions {
  double seen_weight = 0.4;    // FC-CLIP's alpha
  double unseen_weight = 0.8;  // FC-CLIP's beta
};

// Mean of dense_probs [T, H, W] under each soft mask [N, H, W] (values in [0, 1]):
// [N, T]; rows of masks with no area are zero.
torch::Tensor PoolInsideMasks(const torch::Tensor& dense_probs, const torch::Tensor& masks);

// class_logits [N, T + 1] (last = void) from the mask classifier; dense_probs [T, H, W]
// per-pixel class probabilities of the dense head; masks [N, H, W]; seen [T] bool.
// Returns probabilities [N, T + 1] (void last), rows summing to 1.
torch::Tensor FuseClassProbabilities(const torch::Tensor& class_logits,
                                     const torch::Tensor& dense_probs, const torch::Tensor& masks,
                                     const torch::Tensor& seen, const FusionOptions& options);

// The same as log-probabilities, computed in log space: when the classifier is almost
// sure of void, 1 - p_void rounds to 0 in float and the probabilities above lose every
// class, while their logarithms keep the ranking (what post-processing needs).
torch::Tensor FuseClassLogProbabilities(const torch::Tensor& class_logits,
                                        const torch::Tensor& dense_probs,
                                        const torch::Tensor& masks, const torch::Tensor& seen,
                                        const FusionOptions& options);

}  // namespace ovseg

#endif  // OVSEG_MODEL_FGASEG_FUSION_H_
