// Masked-crop classification of mask proposals, the second opinion the mask classifier
// can ensemble with its mask tokens (OVSeg's and MaskCLIP's "masked crop" view):
// each proposal is cut out of the image as the square around its bounding box, pixels
// outside the proposal (or the image) set to CLIP's mean colour, resized to CLIP's input
// and encoded by the frozen CLIP like any image; its class logits are the cosine against
// the class embeddings x temperature.
//
// Why it exists: a mask token reads a proposal through attention over the whole scene,
// and on the demo world that view cannot tell shapes apart (docs/results.md, "Region
// crops": a supervised probe reaches 24% through a mask token and 89% on masked crops),
// while the same CLIP names masked crops right. Crops cost one CLIP pass per proposal,
// so the ensemble is a configured choice (ModelConfig.crop_ensemble_weight), off by
// default.
//
// Every function is stateless and thread-compatible; tensors are returned on the
// device of their inputs.
#ifndef OVSEG_MODEL_TEVA_CROP_CLASSIFIER_H_
#define OVSEG_MODEL_TEVA_CROP_CLASSIFIER_H_

#include <torch/torch.h>

#include "model/clip/clip_model.h"

namespace ovseg {

// image [3, H, W] CLIP-normalised (so 0 is CLIP's mean colour); mask_logits [N, H, W]
// (> 0 means inside). Returns [N, 3, size, size] in image's dtype: each proposal's
// masked square crop resized bicubically (antialiased when shrinking), the layout
// evaluation/region_crops.h writes for CLIP's region captions. `has_area` [N] bool, if
// given, says which proposals have a pixel; the crops of the others are all zero.
// `min_component_fraction` > 0 first clears each mask's 8-connected components smaller
// than that fraction of its largest (model/teva/mask_components.h), for the box and the
// silhouette alike.
torch::Tensor MaskedCrops(const torch::Tensor& image, const torch::Tensor& mask_logits,
                          int64_t size, torch::Tensor* has_area = nullptr,
                          double min_component_fraction = 0);

// crops [N, 3, S, S] CLIP-normalised; class_embeddings [T, E] (normalised here).
// Returns [N, T] float32: cosine x temperature. Runs CLIP on at most `chunk` crops at a
// time, which bounds the activations' memory whatever N is.
torch::Tensor CropClassLogits(ClipVision& clip, const torch::Tensor& crops,
                              const torch::Tensor& class_embeddings, double temperature,
                              int64_t chunk = 32);

// The geometric ensemble of the mask classifier with a second per-proposal class
// distribution (FC-CLIP's ensemble; the FUSED mode's and the crop ensemble's):
//   p(c) ∝ p_cls(c)^(1 - w_c) * p_other(c)^w_c over the T classes, scaled by 1 - p_void,
// with the classifier's void passing through unchanged. class_logits [N, T + 1] (void
// last), other_probs [N, T] (rows need not sum to 1; they are normalised), weights
// broadcastable to [N, T] (a row of zeros keeps the classifier's answer). Returns
// log-probabilities [N, T + 1]: 1 - p_void may round to 0 in float, their logarithms
// keep the ranking post-processing needs.
torch::Tensor EnsembleClassLogProbabilities(const torch::Tensor& class_logits,
                                            const torch::Tensor& other_probs,
                                            const torch::Tensor& weights);

}  // namespace ovseg

#endif  // OVSEG_MODEL_TEVA_CROP_CLASSIFIER_H_
