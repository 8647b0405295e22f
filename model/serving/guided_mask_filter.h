// Generated masks snapped to the image's edges: the guided filter of He, Sun and Tang
// (ECCV 2010, "Guided Image Filtering"), with the image's colour as the guide and a
// proposal's probabilities as the input.
//
// A Mask2Former proposal is predicted at 1/4 of the input and upsampled bilinearly, so a
// small thing's corners and thin arms come out rounded; the demo CLIP reads shape from a
// crop's silhouette and names such a blob with the wrong shape (docs/results.md, "Stray
// pixels in the crops" and "Edges from the image"). Within each window of the radius the
// filter's output is a linear function of the colour, so a mask that roughly covers an
// object takes that object's colour edges.
//
// As He and Sun's fast guided filter (arXiv 1505.00996): the window statistics and the
// linear coefficients are computed at 1 / kGuidedFilterSubsampling of the size and the
// coefficients, smooth by construction, upsampled and applied to the full-size colour
// (~16x cheaper than the exact filter; the masks come at 1/4 anyway).
//
// Thread-compatible and stateless. Works in chunks of proposals so that its temporary
// memory stays near kGuidedFilterChunkElements floats whatever the proposal count.
#ifndef OVSEG_MODEL_SERVING_GUIDED_MASK_FILTER_H_
#define OVSEG_MODEL_SERVING_GUIDED_MASK_FILTER_H_

#include <torch/torch.h>

namespace ovseg {

// Proposals filtered together: at most this many pixels x proposals per chunk.
inline constexpr int64_t kGuidedFilterChunkElements = int64_t{1} << 22;
// The fast filter's subsampling of the statistics (its radius too, rounded, at least 1).
inline constexpr int64_t kGuidedFilterSubsampling = 4;

// rgb: [height * width * 3] interleaved 8-bit RGB, the image the logits are drawn on.
// logits: [N, height, width] float mask logits on the CPU. radius: the window's half side
// in pixels (window 2 radius + 1, cut at the image's border), > 0. eps: the filter's
// regulariser on the colour's variance (colour in [0, 1]), > 0: larger keeps more of the
// input's own shape. Returns the filtered probabilities as logits [N, height, width]
// (probabilities clamped to [1e-4, 1 - 1e-4], so logits within +-9.21).
torch::Tensor GuidedFilterMaskLogits(const uint8_t* rgb, int64_t height, int64_t width,
                                     const torch::Tensor& logits, int64_t radius, double eps);

}  // namespace ovseg

#endif  // OVSEG_MODEL_SERVING_GUIDED_MASK_FILTER_H_
