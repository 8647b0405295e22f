#include "model/teva/crop_classifier.h"

#include <algorithm>
#include <vector>

#include "model/teva/mask_components.h"

namespace ovseg {
namespace {

namespace F = torch::nn::functional;

}  // namespace

torch::Tensor MaskedCrops(const torch::Tensor& image, const torch::Tensor& mask_logits,
                          int64_t size, torch::Tensor* has_area, double min_component_fraction) {
  TORCH_CHECK(image.dim() == 3 && mask_logits.dim() == 3 && image.size(1) == mask_logits.size(1) &&
                  image.size(2) == mask_logits.size(2),
              "MaskedCrops: image [3, H, W] and masks [N, H, W] of one size expected");
  const int64_t n = mask_logits.size(0), h = image.size(1), w = image.size(2);
  torch::Tensor inside = (mask_logits > 0).to(torch::kCPU, torch::kUInt8).contiguous();
  if (min_component_fraction > 0) {
    for (int64_t i = 0; i < n; ++i) {
      KeepMainComponents(inside[i].data_ptr<uint8_t>(), h, w, min_component_fraction);
    }
  }
  // Rows and columns each mask touches, to find the bounding boxes without a pixel loop.
  const torch::Tensor rows = inside.any(2), cols = inside.any(1);  // [N, H], [N, W]
  const torch::Tensor area = rows.any(1).to(torch::kBool);
  torch::Tensor crops = torch::zeros({n, 3, size, size}, image.options());
  const auto area_of = area.accessor<bool, 1>();
  for (int64_t i = 0; i < n; ++i) {
    if (!area_of[i]) continue;
    const torch::Tensor ys = rows[i].nonzero(), xs = cols[i].nonzero();
    const int64_t y0 = ys.min().item<int64_t>(), y1 = ys.max().item<int64_t>();
    const int64_t x0 = xs.min().item<int64_t>(), x1 = xs.max().item<int64_t>();
    // The square around the box, centred as region_crops.cc centres it; what falls
    // outside the image stays 0 (the mean colour).
    const int64_t side = std::max(x1 - x0 + 1, y1 - y0 + 1);
    const int64_t left = (x0 + x1 + 1) / 2 - side / 2, top = (y0 + y1 + 1) / 2 - side / 2;
    const int64_t ix0 = std::max<int64_t>(left, 0), iy0 = std::max<int64_t>(top, 0);
    const int64_t ix1 = std::min(left + side, w), iy1 = std::min(top + side, h);
    torch::Tensor square = torch::zeros({1, 3, side, side}, image.options());
    const torch::Tensor keep =
        inside[i].slice(0, iy0, iy1).slice(1, ix0, ix1).to(image.device(), image.scalar_type());
    square[0]
        .slice(1, iy0 - top, iy1 - top)
        .slice(2, ix0 - left, ix1 - left)
        .copy_(image.slice(1, iy0, iy1).slice(2, ix0, ix1) * keep);
    // Bicubic in float: CLIP's preprocess resizes with PIL's antialiased bicubic.
    crops[i].copy_(
        F::interpolate(square.to(torch::kFloat32), F::InterpolateFuncOptions()
                                                       .size(std::vector<int64_t>{size, size})
                                                       .mode(torch::kBicubic)
                                                       .align_corners(false)
                                                       .antialias(side > size))[0]);
  }
  if (has_area != nullptr) *has_area = area.to(image.device());
  return crops;
}

torch::Tensor CropClassLogits(ClipVision& clip, const torch::Tensor& crops,
                              const torch::Tensor& class_embeddings, double temperature,
                              int64_t chunk) {
  TORCH_CHECK(chunk > 0, "CropClassLogits: chunk must be positive");
  const torch::Tensor classes =
      F::normalize(class_embeddings.to(torch::kFloat32), F::NormalizeFuncOptions().dim(-1));
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < crops.size(0); start += chunk) {
    const torch::Tensor embedding =
        clip->forward(crops.slice(0, start, std::min(start + chunk, crops.size(0)))).embedding;
    parts.push_back(torch::matmul(F::normalize(embedding.to(torch::kFloat32),
                                               F::NormalizeFuncOptions().dim(-1)),
                                  classes.t()) *
                    temperature);
  }
  if (parts.empty()) return torch::zeros({0, classes.size(0)}, classes.options());
  return torch::cat(parts, 0);
}

torch::Tensor EnsembleClassLogProbabilities(const torch::Tensor& class_logits,
                                            const torch::Tensor& other_probs,
                                            const torch::Tensor& weights) {
  const int64_t t = other_probs.size(1);
  TORCH_CHECK(class_logits.size(1) == t + 1, "ensemble: ", class_logits.size(1),
              " classifier logits for ", t, " classes (+ void expected)");
  const torch::Tensor logits = class_logits.to(torch::kFloat32);
  const torch::Tensor log_all = torch::log_softmax(logits, -1);
  const torch::Tensor log_void = log_all.narrow(1, t, 1);
  const torch::Tensor log_not_void = torch::logsumexp(log_all.narrow(1, 0, t), 1, true);
  const torch::Tensor p_cls = torch::softmax(logits.narrow(1, 0, t), -1);
  torch::Tensor other = other_probs.to(torch::kFloat32);
  other = other / other.sum(1, /*keepdim=*/true).clamp_min(1e-12);
  const torch::Tensor w = weights.to(torch::kFloat32);
  constexpr double kTiny = 1e-8;
  const torch::Tensor log_fused = (1 - w) * (p_cls + kTiny).log() + w * (other + kTiny).log();
  return torch::cat({torch::log_softmax(log_fused, -1) + log_not_void, log_void}, 1);
}

}  // namespace ovseg
