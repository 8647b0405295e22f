// One way to scale per-pixel maps in serving: bilinear without corner alignment, as the
// served masks are drawn (Mask2Former's and detectron2's convention). Used for the
// generator's proposals, the dense head's probabilities and the guided filter's
// statistics, so that all of them line up pixel for pixel. Header-only; stateless.
#ifndef OVSEG_MODEL_SERVING_RESIZE_MAPS_H_
#define OVSEG_MODEL_SERVING_RESIZE_MAPS_H_

#include <torch/torch.h>

#include <vector>

namespace ovseg {

// maps: [N, h, w] floating point, any device; returns [N, height, width], each map
// resized on its own.
inline torch::Tensor ResizeMaps(const torch::Tensor& maps, int64_t height, int64_t width) {
  namespace F = torch::nn::functional;
  return F::interpolate(maps.unsqueeze(0), F::InterpolateFuncOptions()
                                               .size(std::vector<int64_t>{height, width})
                                               .mode(torch::kBilinear)
                                               .align_corners(false))
      .squeeze(0);
}

}  // namespace ovseg

#endif  // OVSEG_MODEL_SERVING_RESIZE_MAPS_H_
