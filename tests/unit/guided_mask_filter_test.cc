// GuidedFilterMaskLogits (model/serving/guided_mask_filter.h): a rounded mask takes the
// image's edges; a flat image leaves a mask's inside and outside as they were.
#include "model/serving/guided_mask_filter.h"

#include <gtest/gtest.h>

#include <vector>

#include "model/serving/fovseg_pipeline.h"
#include "tests/fakes/fake_pipeline_parts.h"

namespace ovseg {
namespace {

// A side x side image: grey, with a red 12 x 12 square at rows and columns 14-25.
std::vector<uint8_t> RedSquareImage(int side = 40) {
  std::vector<uint8_t> rgb(static_cast<size_t>(side * side * 3), 128);
  for (int y = 14; y < 26; ++y) {
    for (int x = 14; x < 26; ++x) {
      uint8_t* p = &rgb[static_cast<size_t>((y * side + x) * 3)];
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

// One proposal: a disc at the generator's stride over where RedSquareImage's square is.
class DiscProposalGenerator : public MaskGenerator {
 public:
  std::vector<MaskProposals> Generate(const torch::Tensor& images) override {
    // Cell i covers pixels 4i..4i+3: the square's centre (19.5) is at cell 4.375.
    const torch::Tensor y = torch::arange(12).to(torch::kFloat32).view({12, 1}) - 4.375f;
    const torch::Tensor x = torch::arange(12).to(torch::kFloat32).view({1, 12}) - 4.375f;
    std::vector<MaskProposals> out;
    for (int64_t b = 0; b < images.size(0); ++b) {
      out.push_back({((1.5f - (y * y + x * x).sqrt()) * 4.0f).unsqueeze(0), torch::ones({1})});
    }
    return out;
  }
  std::string name() const override { return "disc"; }
};

// guided_filter_radius: a generated proposal takes the image's edges (the square's corner
// joins its mask); 0 leaves it as generated.
TEST(GuidedMaskFilterTest, PipelineFiltersGeneratedProposalsWhenConfigured) {
  const std::vector<uint8_t> rgb = RedSquareImage(48);  // CLIP's patch is 16
  ImageRgb8 image{48, 48, PixelBuffer(rgb.begin(), rgb.end())};
  const PipelineRequest r = testing::ProposalsRequest(image, 2);
  auto corner_inside = [&](int64_t radius) {
    FovSegPipelineOptions options;
    options.guided_filter_radius = radius;
    FovSegPipeline pipeline(testing::TinyClassifier(), torch::kCPU, PipelineInfo{},
                            std::make_shared<DiscProposalGenerator>(), options);
    const auto out = pipeline.Run({r});
    EXPECT_TRUE(out[0].ok()) << out[0].status();
    EXPECT_EQ(out[0]->segments.size(), 1u);
    return out[0]->segments.at(0).soft_mask[static_cast<size_t>(15 * 48 + 15)] > 128;
  };
  EXPECT_FALSE(corner_inside(0));
  EXPECT_TRUE(corner_inside(8));
}

}  // namespace
}  // namespace ovseg
