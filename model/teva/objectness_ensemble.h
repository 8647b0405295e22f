// The mask generator's objectness as the classifier's void (ModelConfig.objectness_weight).
//
// Why: the mask classifier's void embedding is trained by FOV-Seg's L_CE, which with
// MaskCLIP's void weight 0 (the default, docs/results.md) teaches it nothing, so every
// proposal the classes like survives post-processing, duplicates and fragments included.
// The class-agnostic Mask2Former's objectness was trained with Hungarian matching to
// score one query per segment high and the rest low: the signal that removes duplicates.
//
// Stateless and thread-compatible; tensors are returned on the device of their inputs.
#ifndef OVSEG_MODEL_TEVA_OBJECTNESS_ENSEMBLE_H_
#define OVSEG_MODEL_TEVA_OBJECTNESS_ENSEMBLE_H_

#include <torch/torch.h>

namespace ovseg {

// class_logits [N, T + 1] (void last; logits or log-probabilities), objectness [N] in
// [0, 1] (1 - the generator's void probability), weight a in [0, 1]. Returns
// log-probabilities [N, T + 1] whose class distribution is the classifier's and whose
// probability of "some class" is the geometric blend
//   p(not void) = (1 - p_void)^(1 - a) * objectness^a,
// so a = 0 returns the classifier's answer and a = 1 takes void from the generator alone.
torch::Tensor WithObjectnessLogProbabilities(const torch::Tensor& class_logits,
                                             const torch::Tensor& objectness, double weight);

}  // namespace ovseg

#endif  // OVSEG_MODEL_TEVA_OBJECTNESS_ENSEMBLE_H_
