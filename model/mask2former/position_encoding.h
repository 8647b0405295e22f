// The 2-D sine positional encoding of DETR / Mask2Former (normalised, scale 2*pi): for
// each pixel, sin/cos of its cumulative row and column position (divided by the valid
// extent) at num_feats/2 frequencies each; y features first, then x. Also used by the
// FGAseg head's P2Tformer.
#ifndef OVSEG_MODEL_MASK2FORMER_POSITION_ENCODING_H_
#define OVSEG_MODEL_MASK2FORMER_POSITION_ENCODING_H_

#include <torch/torch.h>

namespace ovseg {

// [B, 2 * num_feats, H, W]. `padding` [B, H, W] bool (true = padded pixel) or undefined.
torch::Tensor SinePositionEncoding(int64_t batch, int64_t height, int64_t width, int64_t num_feats,
                                   const torch::TensorOptions& options,
                                   const torch::Tensor& padding = {}, double temperature = 10000.0);

}  // namespace ovseg

#endif  // OVSEG_MODEL_MASK2FORMER_POSITION_ENCODING_H_
