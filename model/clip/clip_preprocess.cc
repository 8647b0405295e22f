#include "model/clip/clip_preprocess.h"

#include <cmath>

namespace ovseg {
namespace {

namespace F = torch::nn::functional;

// OpenAI CLIP's normalisation constants (clip/clip.py).
torch::Tensor Normalize(const torch::Tensor& unit) {
  const auto mean = torch::tensor({0.48145466f, 0.4578275f, 0.40821073f}).view({1, 3, 1, 1});
  const auto std = torch::tensor({0.26862954f, 0.26130258f, 0.27577711f}).view({1, 3, 1, 1});
  return (unit - mean) / std;
}

torch::Tensor Bytes(const uint8_t* rgb, int width, int height) {
  return torch::from_blob(const_cast<uint8_t*>(rgb), {height, width, 3}, torch::kUInt8)
      .permute({2, 0, 1})
      .unsqueeze(0);
}

}  // namespace

torch::Tensor ClipNormalize(const uint8_t* rgb, int width, int height) {
  return Normalize(Bytes(rgb, width, height).to(torch::kFloat32) / 255.0f);
}

torch::Tensor ClipPreprocess(const uint8_t* rgb, int width, int height, int size) {
  if (width == size && height == size) return ClipNormalize(rgb, width, height);
  // torchvision's Resize(int): the shorter side becomes `size`, the longer one is truncated.
  const bool wide = width >= height;
  const int64_t shorter = wide ? height : width, longer = wide ? width : height;
  const auto scaled_long = static_cast<int64_t>(static_cast<double>(size) * longer / shorter);
  const int64_t new_h = wide ? size : scaled_long, new_w = wide ? scaled_long : size;
  torch::Tensor resized = F::interpolate(Bytes(rgb, width, height).to(torch::kFloat32),
                                         F::InterpolateFuncOptions()
                                             .size(std::vector<int64_t>{new_h, new_w})
                                             .mode(torch::kBicubic)
                                             .align_corners(false)
                                             .antialias(true));
  resized = resized.round().clamp(0, 255);  // PIL resizes 8-bit images to 8-bit.
  const auto top = static_cast<int64_t>(std::round((new_h - size) / 2.0));
  const auto left = static_cast<int64_t>(std::round((new_w - size) / 2.0));
  return Normalize(resized.narrow(2, top, size).narrow(3, left, size) / 255.0f);
}

}  // namespace ovseg
