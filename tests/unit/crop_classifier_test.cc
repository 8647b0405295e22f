// Masked-crop classification (model/teva/crop_classifier.h): the crop layout, CLIP on
// crops in chunks, and the geometric ensemble with the mask classifier.
#include "model/teva/crop_classifier.h"

#include <gtest/gtest.h>

#include <vector>

#include "model/teva/mask_components.h"

namespace ovseg {
namespace {

ClipVision TinyVision(int64_t image_size) {
  torch::manual_seed(5);
  ClipConfig c;
  c.vision = {32, 2, 4, 8, image_size};
  c.embed_dim = 16;
  return ClipVision(c);
}

TEST(MaskedCropsTest, SquareAroundTheBoxWithTheMeanColourOutsideTheMask) {
  // Image values encode position and channel, so every copied pixel is identifiable.
  const torch::Tensor image = torch::arange(3 * 20 * 30, torch::kFloat32).view({3, 20, 30}) + 1;
  torch::Tensor masks = torch::full({2, 20, 30}, -5.0f);
  // A 4 tall x 8 wide box at rows 6..9, columns 10..17, its corner (6, 10) left out.
  masks[0].slice(0, 6, 10).slice(1, 10, 18).fill_(5.0f);
  masks[0][6][10] = -5.0f;
  torch::Tensor has_area;
  const torch::Tensor crops = MaskedCrops(image, masks, 8, &has_area);
  ASSERT_EQ(crops.sizes(), (std::vector<int64_t>{2, 3, 8, 8}));
  EXPECT_TRUE(has_area[0].item<bool>());
  EXPECT_FALSE(has_area[1].item<bool>());
  EXPECT_EQ(crops[1].abs().sum().item<float>(), 0.0f);  // no pixel: no crop
  // Side 8 (the longer side), centred on rows 6..9: rows 4..11 of the image, columns
  // 10..17; the crop is already 8 x 8, so nothing is resampled.
  for (int64_t c = 0; c < 3; ++c) {
    for (int64_t y = 0; y < 8; ++y) {
      for (int64_t x = 0; x < 8; ++x) {
        const int64_t iy = 4 + y, ix = 10 + x;
        const bool inside = iy >= 6 && iy <= 9 && !(iy == 6 && ix == 10);
        const float expected = inside ? image[c][iy][ix].item<float>() : 0.0f;
        EXPECT_NEAR(crops[0][c][y][x].item<float>(), expected, 1e-3) << c << " " << y << " " << x;
      }
    }
  }
}

TEST(MaskedCropsTest, PartsOutsideTheImageAreTheMeanColourAndCropsAreResized) {
  const torch::Tensor image = torch::ones({3, 16, 16});
  torch::Tensor masks = torch::full({1, 16, 16}, -5.0f);
  masks[0].slice(0, 0, 2).slice(1, 0, 8).fill_(5.0f);  // 2 x 8 at the top edge
  const torch::Tensor crops = MaskedCrops(image, masks, 16);
  // Side 8 centred on rows 0..1 starts at row -3: the crop's rows 0..2 (6..7 in 16 px)
  // are outside the image, its rows 3..4 the mask (6..9 of 16 px), the rest outside it.
  ASSERT_EQ(crops.sizes(), (std::vector<int64_t>{1, 3, 16, 16}));
  EXPECT_NEAR(crops[0][0][0][8].item<float>(), 0.0f, 1e-4);
  EXPECT_NEAR(crops[0][0][7][8].item<float>(), 1.0f, 0.15);
  EXPECT_NEAR(crops[0][0][8][8].item<float>(), 1.0f, 0.15);
  EXPECT_NEAR(crops[0][0][15][8].item<float>(), 0.0f, 1e-4);
}

// A generated proposal with a fleck far from its object (docs/results.md, "Stray pixels
// in the crops"): with the fleck the crop's box spans both and the object shrinks in it;
// keeping the main component gives exactly the crop of the object alone.
TEST(MaskedCropsTest, StrayComponentsAreLeftOutOfTheCropWhenAsked) {
  const torch::Tensor image = torch::rand({3, 40, 40}) + 0.5;
  torch::Tensor object = torch::full({1, 40, 40}, -5.0f);
  object[0].slice(0, 5, 15).slice(1, 5, 15).fill_(5.0f);  // 10 x 10 at (5, 5)
  torch::Tensor with_fleck = object.clone();
  with_fleck[0].slice(0, 33, 35).slice(1, 33, 35).fill_(5.0f);  // 2 x 2 at (33, 33)
  const torch::Tensor alone = MaskedCrops(image, object, 16);
  const torch::Tensor widened = MaskedCrops(image, with_fleck, 16);
  const torch::Tensor cleaned = MaskedCrops(image, with_fleck, 16, nullptr, 1.0);
  EXPECT_GT((widened - alone).abs().max().item<float>(), 0.1f);
  EXPECT_TRUE(torch::allclose(cleaned, alone));
  // A fraction below the fleck's share (4 / 100 pixels) keeps it.
  EXPECT_TRUE(torch::allclose(MaskedCrops(image, with_fleck, 16, nullptr, 0.03), widened));
}

std::vector<uint8_t> Grid(const std::vector<const char*>& rows) {
  std::vector<uint8_t> out;
  for (const char* r : rows) {
    for (const char* c = r; *c != 0; ++c) out.push_back(*c == '#' ? 1 : 0);
  }
  return out;
}

TEST(KeepMainComponentsTest, DropsComponentsBelowTheFractionOfTheLargest) {
  // Three components: 6 pixels (two rows joined diagonally), 3 pixels and 1 pixel.
  std::vector<uint8_t> mask = Grid({"###....",  //
                                    "...###.",  //
                                    ".......",  //
                                    "##.....",  //
                                    "#.....#"});
  std::vector<uint8_t> half = mask;
  EXPECT_EQ(KeepMainComponents(half.data(), 5, 7, 0.5), 9);  // 6 and 3 kept, 1 < 3
  EXPECT_EQ(half, Grid({"###....", "...###.", ".......", "##.....", "#......"}));
  std::vector<uint8_t> largest = mask;
  EXPECT_EQ(KeepMainComponents(largest.data(), 5, 7, 1.0), 6);
  EXPECT_EQ(largest, Grid({"###....", "...###.", ".......", ".......", "......."}));
  std::vector<uint8_t> all = mask;
  EXPECT_EQ(KeepMainComponents(all.data(), 5, 7, 0.0), 10);
  EXPECT_EQ(all, mask);
}

TEST(KeepMainComponentsTest, TiesAtTheLargestAreAllKeptAndEmptyMasksStayEmpty) {
  std::vector<uint8_t> twins = Grid({"##..##", "##..##"});
  EXPECT_EQ(KeepMainComponents(twins.data(), 2, 6, 1.0), 8);
  EXPECT_EQ(twins, Grid({"##..##", "##..##"}));
  std::vector<uint8_t> empty(12, 0);
  EXPECT_EQ(KeepMainComponents(empty.data(), 3, 4, 1.0), 0);
  EXPECT_EQ(empty, std::vector<uint8_t>(12, 0));
}

TEST(CropClassLogitsTest, CosineTimesTemperatureWhateverTheChunk) {
  ClipVision clip = TinyVision(16);
  clip->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor crops = torch::randn({5, 3, 16, 16});
  const torch::Tensor classes = torch::randn({3, 16});
  const torch::Tensor one_batch = CropClassLogits(clip, crops, classes, 100.0, 64);
  const torch::Tensor chunked = CropClassLogits(clip, crops, classes, 100.0, 2);
  EXPECT_TRUE(torch::allclose(one_batch, chunked, 1e-4, 1e-4));
  namespace F = torch::nn::functional;
  const torch::Tensor expected =
      torch::matmul(F::normalize(clip->forward(crops).embedding, F::NormalizeFuncOptions().dim(1)),
                    F::normalize(classes, F::NormalizeFuncOptions().dim(1)).t()) *
      100.0;
  EXPECT_TRUE(torch::allclose(one_batch, expected, 1e-4, 1e-4));
  EXPECT_EQ(CropClassLogits(clip, torch::zeros({0, 3, 16, 16}), classes, 100.0).size(0), 0);
}

TEST(EnsembleClassLogProbabilitiesTest, WeightsBlendClassesAndVoidPassesThrough) {
  const torch::Tensor logits =
      torch::tensor({{2.0f, 0.0f, -1.0f, 0.5f}, {0.0f, 1.0f, 0.0f, -3.0f}});
  const torch::Tensor other =
      torch::tensor({{0.1f, 0.2f, 0.7f}, {2.0f, 1.0f, 1.0f}});  // row 2 unnormalised
  const torch::Tensor p = torch::softmax(logits, -1);
  // w = 0: the classifier's own probabilities.
  EXPECT_TRUE(torch::allclose(
      EnsembleClassLogProbabilities(logits, other, torch::zeros({1, 3})).exp(), p, 1e-5, 1e-6));
  // w = 1: the other distribution (normalised) x (1 - p_void); void unchanged.
  const torch::Tensor out = EnsembleClassLogProbabilities(logits, other, torch::ones({1, 3})).exp();
  const torch::Tensor other_n = other / other.sum(1, true);
  const torch::Tensor not_void = 1 - p.narrow(1, 3, 1);
  EXPECT_TRUE(torch::allclose(out.narrow(1, 0, 3), other_n * not_void, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(out.narrow(1, 3, 1), p.narrow(1, 3, 1), 1e-6, 1e-7));
  // Per-row weights: a zero row keeps the classifier's answer, the other the blend.
  const torch::Tensor mixed =
      EnsembleClassLogProbabilities(logits, other, torch::tensor({{0.0f}, {0.5f}})).exp();
  EXPECT_TRUE(torch::allclose(mixed[0], p[0], 1e-5, 1e-6));
  torch::Tensor blend =
      (p[1].narrow(0, 0, 3) / p[1].narrow(0, 0, 3).sum()).sqrt() * other_n[1].sqrt();
  blend = blend / blend.sum() * not_void[1];
  EXPECT_TRUE(torch::allclose(mixed[1].narrow(0, 0, 3), blend, 1e-5, 1e-6));
}

}  // namespace
}  // namespace ovseg
