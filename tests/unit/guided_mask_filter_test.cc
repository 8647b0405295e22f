// GuidedFilterMaskLogits (model/serving/guided_mask_filter.h): a rounded mask takes the
// image's edges; a flat image leaves a mask's inside and outside as they were.
#include "model/serving/guided_mask_filter.h"

#include <gtest/gtest.h>

#include <vector>

namespace ovseg {
namespace {

// A 40 x 40 image: grey, with a red 12 x 12 square at rows and columns 14-25.
std::vector<uint8_t> RedSquareImage() {
  std::vector<uint8_t> rgb(40 * 40 * 3, 128);
  for (int y = 14; y < 26; ++y) {
    for (int x = 14; x < 26; ++x) {
      uint8_t* p = &rgb[static_cast<size_t>((y * 40 + x) * 3)];
      p[0] = 230, p[1] = 20, p[2] = 20;
    }
  }
  return rgb;
}

TEST(GuidedMaskFilterTest, ARoundedMaskTakesTheSquaresCorners) {
  const std::vector<uint8_t> rgb = RedSquareImage();
  // The square's mask as a coarse generator draws it: a disc of radius 7 at its centre,
  // which misses the corners and spills over the middle of each side.
  const torch::Tensor y = torch::arange(40).to(torch::kFloat32).view({40, 1}) - 19.5f;
  const torch::Tensor x = torch::arange(40).to(torch::kFloat32).view({1, 40}) - 19.5f;
  const torch::Tensor disc = (7.5f - (y * y + x * x).sqrt()).mul(2.0f).unsqueeze(0);
  torch::Tensor square = torch::zeros({40, 40}, torch::kBool);
  square.slice(0, 14, 26).slice(1, 14, 26).fill_(true);
  auto iou = [&](const torch::Tensor& logits) {
    const torch::Tensor inside = logits[0] > 0;
    return (inside & square).sum().item<double>() / (inside | square).sum().item<double>();
  };
  const torch::Tensor filtered = GuidedFilterMaskLogits(rgb.data(), 40, 40, disc, 8, 1e-3);
  ASSERT_EQ(filtered.sizes(), disc.sizes());
  EXPECT_LT(iou(disc), 0.9);
  EXPECT_GT(iou(filtered), 0.97) << "before " << iou(disc);
  EXPECT_GT(filtered[0][14][14].item<float>(), 0.0f);  // a corner the disc missed
  EXPECT_LT(disc[0][14][14].item<float>(), 0.0f);
}

TEST(GuidedMaskFilterTest, FlatImageKeepsTheMasksInsideAndChunksAgree) {
  const std::vector<uint8_t> grey(48 * 60 * 3, 90);
  torch::Tensor logits = torch::full({3, 48, 60}, -6.0f);
  logits[0].slice(0, 4, 24).slice(1, 4, 24).fill_(6.0f);
  logits[1].slice(0, 24, 46).slice(1, 30, 56).fill_(6.0f);
  const torch::Tensor filtered = GuidedFilterMaskLogits(grey.data(), 48, 60, logits, 4, 1e-3);
  ASSERT_EQ(filtered.sizes(), logits.sizes());
  // Without colour to follow the filter is a box blur: deep inside and far outside stay.
  EXPECT_GT(filtered[0][14][14].item<float>(), 3.0f);  // p > 0.95
  EXPECT_LT(filtered[0][40][50].item<float>(), -3.0f);
  EXPECT_GT(filtered[1][35][43].item<float>(), 3.0f);  // p > 0.95
  EXPECT_LT(filtered[2].max().item<float>(), -3.0f);
  // One proposal at a time gives what three together give.
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(torch::allclose(
        GuidedFilterMaskLogits(grey.data(), 48, 60, logits.narrow(0, i, 1), 4, 1e-3),
        filtered.narrow(0, i, 1), 1e-4, 1e-4))
        << i;
  }
  EXPECT_EQ(GuidedFilterMaskLogits(grey.data(), 48, 60, logits.narrow(0, 0, 0), 4, 1e-3).size(0),
            0);
}

}  // namespace
}  // namespace ovseg
