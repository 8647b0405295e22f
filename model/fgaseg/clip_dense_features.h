// CLIP's dense features for the FGAseg head (as CAT-Seg and the official FGAseg compute
// them): the image encoder runs as usual except its last block, where attention is
// replaced by the value path alone: `v = out_proj(v_proj(ln_1(x))) + x[class token]`,
// `v = v + mlp(ln_2(v))`; every token then goes through ln_post and the projection. The
// outputs of the configured intermediate blocks come along as guidance maps.
#ifndef OVSEG_MODEL_FGASEG_CLIP_DENSE_FEATURES_H_
#define OVSEG_MODEL_FGASEG_CLIP_DENSE_FEATURES_H_

#include <torch/torch.h>

#include <vector>

#include "model/clip/clip_model.h"

namespace ovseg {

struct ClipDenseFeatures {
  torch::Tensor dense;                  // [B, embed_dim, gh, gw]
  std::vector<torch::Tensor> guidance;  // [B, width, gh, gw] per requested block
};

// images [B, 3, H, W], CLIP-normalised, H and W multiples of the patch size.
ClipDenseFeatures ComputeClipDenseFeatures(ClipVision& visual, const torch::Tensor& images,
                                           const std::vector<int64_t>& guidance_layers);

// The image-token outputs the dense features are made from: the guidance blocks', then
// the penultimate block's (the input of the value-only last block). Serving takes them
// from the mask classifier's pass, so CLIP runs once for both heads.
std::vector<int64_t> DenseFeatureTokenLayers(ClipVision& visual,
                                             const std::vector<int64_t>& guidance_layers);

// The dense features from those outputs, [B, 1 + gh*gw, C] each, in
// DenseFeatureTokenLayers' order.
ClipDenseFeatures DenseFeaturesFromTokens(ClipVision& visual,
                                          const std::vector<torch::Tensor>& tokens, int64_t gh,
                                          int64_t gw);

}  // namespace ovseg

#endif  // OVSEG_MODEL_FGASEG_CLIP_DENSE_FEATURES_H_
