// Fusion of the TeVA classifier's and the FGAseg head's probabilities, against values
// computed by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "model/fgaseg/fusion.h"

namespace ovseg {
namespace {

TEST(FusionTest, PoolsDenseProbabilitiesUnderSoftMasks) {
  // 2 classes on a 1x2 image: pixel 0 is (0.9, 0.1), pixel 1 is (0.2, 0.8).
  const torch::Tensor dense = torch::tensor({{{0.9f, 0.2f}}, {{0.1f, 0.8f}}});
  // Mask 0 covers pixel 0 fully and pixel 1 at 0.5; mask 1 is empty.
  const torch::Tensor masks = torch::tensor({{{1.0f, 0.5f}}, {{0.0f, 0.0f}}});
  const torch::Tensor pooled = PoolInsideMasks(dense, masks);
  EXPECT_NEAR(pooled[0][0].item<double>(), (0.9 + 0.5 * 0.2) / 1.5, 1e-6);
  EXPECT_NEAR(pooled[0][1].item<double>(), (0.1 + 0.5 * 0.8) / 1.5, 1e-6);
  EXPECT_EQ(pooled[1].abs().sum().item<double>(), 0.0);
}

TEST(FusionTest, GeometricEnsembleWithSeenAndUnseenWeights) {
  // Classifier logits for 2 classes + void; class 0 seen (w 0.4), class 1 unseen (w 0.8).
  const torch::Tensor logits = torch::tensor({{1.0f, 0.0f, -1.0f}, {0.0f, 2.0f, 0.5f}});
  const torch::Tensor dense = torch::tensor({{{0.7f}}, {{0.3f}}});  // one pixel
  const torch::Tensor masks = torch::tensor({{{1.0f}}, {{0.0f}}});  // mask 1 has no area
  const torch::Tensor seen = torch::tensor({true, false});
  const torch::Tensor p = FuseClassProbabilities(logits, dense, masks, seen, FusionOptions());
  // Row 0 by hand.
  const double z = std::exp(1.0) + std::exp(0.0) + std::exp(-1.0);
  const double p_void = std::exp(-1.0) / z;
  const double c0 = std::exp(1.0) / (std::exp(1.0) + 1.0), c1 = 1.0 / (std::exp(1.0) + 1.0);
  const double f0 = std::pow(c0, 0.6) * std::pow(0.7, 0.4);
  const double f1 = std::pow(c1, 0.2) * std::pow(0.3, 0.8);
  EXPECT_NEAR(p[0][0].item<double>(), f0 / (f0 + f1) * (1 - p_void), 1e-5);
  EXPECT_NEAR(p[0][1].item<double>(), f1 / (f0 + f1) * (1 - p_void), 1e-5);
  EXPECT_NEAR(p[0][2].item<double>(), p_void, 1e-6);
  // Row 1: empty mask, the classifier's probabilities unchanged.
  const torch::Tensor alone = torch::softmax(logits[1], -1);
  EXPECT_TRUE(torch::allclose(p[1], alone, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(p.sum(1), torch::ones({2}), 1e-5, 1e-6));
  // Bad shapes are refused.
  EXPECT_THROW(FuseClassProbabilities(logits.narrow(1, 0, 2), dense, masks, seen, {}), c10::Error);
}

// A classifier all but certain of void: 1 - p_void is 0 in float, so the probabilities
// lose the classes; the log-probabilities keep them, equal to the exact values.
TEST(FusionTest, LogSpaceKeepsClassesWhenVoidDominates) {
  const torch::Tensor logits = torch::tensor({{0.0f, -1.0f, 120.0f}});
  const torch::Tensor dense = torch::tensor({{{0.4f}}, {{0.6f}}});
  const torch::Tensor masks = torch::tensor({{{1.0f}}});
  const torch::Tensor seen = torch::tensor({false, false});
  const torch::Tensor p = FuseClassProbabilities(logits, dense, masks, seen, FusionOptions());
  EXPECT_EQ(p[0][0].item<float>(), 0.0f);  // what the log space avoids
  const torch::Tensor log_p = FuseClassLogProbabilities(logits, dense, masks, seen, {});
  // log(1 - p_void) = log(e^0 + e^-1) - 120 (to double precision); classes by hand.
  const double log_not_void = std::log(1.0 + std::exp(-1.0)) - 120.0;
  const double c0 = 1.0 / (1.0 + std::exp(-1.0)), c1 = 1.0 - c0;
  const double f0 = std::pow(c0, 0.2) * std::pow(0.4, 0.8),
               f1 = std::pow(c1, 0.2) * std::pow(0.6, 0.8);
  EXPECT_NEAR(log_p[0][0].item<double>(), std::log(f0 / (f0 + f1)) + log_not_void, 1e-4);
  EXPECT_NEAR(log_p[0][1].item<double>(), std::log(f1 / (f0 + f1)) + log_not_void, 1e-4);
  EXPECT_NEAR(log_p[0][2].item<double>(), 0.0, 1e-6);
}

}  // namespace
}  // namespace ovseg
