// Synthetic segmentation scenes for Mask2Former training checks and benchmarks: per
// image a bright square and a dark disc (two class-agnostic "object" segments) on
// low-amplitude noise, at places that vary with the image index. Test data, not a
// dataset: the real synthetic world is ovseg-synth's job.
#ifndef OVSEG_TESTS_FAKES_SYNTHETIC_SHAPES_H_
#define OVSEG_TESTS_FAKES_SYNTHETIC_SHAPES_H_

#include <torch/torch.h>

#include <utility>
#include <vector>

#include "model/mask2former/mask2former_loss.h"

namespace ovseg::testing {

inline std::pair<torch::Tensor, std::vector<SegmentTargets>> SyntheticShapes(int64_t n,
                                                                             int64_t size) {
  torch::Tensor images = torch::randn({n, 3, size, size}) * 0.2;
  std::vector<SegmentTargets> targets;
  const torch::Tensor yy = torch::arange(size).view({-1, 1}).expand({size, size});
  const torch::Tensor xx = torch::arange(size).view({1, -1}).expand({size, size});
  for (int64_t i = 0; i < n; ++i) {
    const int64_t s = size / 4, x = (i * 37) % (size - s), y = (i * 53) % (size - s);
    const torch::Tensor square = (xx >= x) & (xx < x + s) & (yy >= y) & (yy < y + s);
    const int64_t cx = size - 1 - x - s / 2, cy = size - 1 - y - s / 2;
    const torch::Tensor disc =
        ((xx - cx) * (xx - cx) + (yy - cy) * (yy - cy) < s * s / 4) & ~square;
    images[i].masked_fill_(square.unsqueeze(0).expand({3, size, size}), 2.0);
    images[i].masked_fill_(disc.unsqueeze(0).expand({3, size, size}), -2.0);
    targets.push_back({torch::stack({square, disc}).to(torch::kFloat32),
                       torch::zeros({2}, torch::kLong), torch::Tensor()});
  }
  return {images, targets};
}

}  // namespace ovseg::testing

#endif  // OVSEG_TESTS_FAKES_SYNTHETIC_SHAPES_H_
