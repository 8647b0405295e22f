// The generator's objectness blended into the classifier's void
// (model/teva/objectness_ensemble.h), checked against the formula written out.
#include "model/teva/objectness_ensemble.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ovseg {
namespace {

TEST(ObjectnessEnsembleTest, WeightZeroKeepsTheClassifiersAnswer) {
  const torch::Tensor logits = torch::tensor({{2.0f, 0.5f, -1.0f}, {0.0f, 1.0f, 3.0f}});
  const torch::Tensor out =
      WithObjectnessLogProbabilities(logits, torch::tensor({0.9f, 0.1f}), 0.0);
  EXPECT_TRUE(torch::allclose(out, torch::log_softmax(logits, -1), 1e-5, 1e-6));
}

TEST(ObjectnessEnsembleTest, BlendsNotVoidGeometricallyAndKeepsTheClassDistribution) {
  // Row 0: p = softmax(2, 0.5, -1); void last.
  const torch::Tensor logits = torch::tensor({{2.0f, 0.5f, -1.0f}, {-3.0f, -2.0f, 4.0f}});
  const torch::Tensor objectness = torch::tensor({0.2f, 0.95f});
  for (const double a : {0.5, 1.0}) {
    const torch::Tensor out = WithObjectnessLogProbabilities(logits, objectness, a);
    const torch::Tensor p = torch::softmax(logits, -1);
    for (int64_t n = 0; n < 2; ++n) {
      const double not_void = 1.0 - p[n][2].item<double>();
      const double blended = std::pow(not_void, 1 - a) * std::pow(objectness[n].item<double>(), a);
      for (int64_t c = 0; c < 2; ++c) {
        const double expected = p[n][c].item<double>() / not_void * blended;
        EXPECT_NEAR(std::exp(out[n][c].item<double>()), expected, 1e-4) << a << " " << n;
      }
      EXPECT_NEAR(std::exp(out[n][2].item<double>()), 1 - blended, 1e-4) << a << " " << n;
      EXPECT_NEAR(out[n].exp().sum().item<double>(), 1.0, 1e-5);
    }
  }
}

TEST(ObjectnessEnsembleTest, CertainScoresStayFinite) {
  const torch::Tensor logits = torch::tensor({{30.0f, 0.0f, -30.0f}, {0.0f, 0.0f, 0.0f}});
  const torch::Tensor out = WithObjectnessLogProbabilities(logits, torch::tensor({0.0f, 1.0f}), 1);
  EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
  // Objectness 0: void wins; objectness 1: the classes take (almost) everything.
  EXPECT_GT(out[0][2].item<float>(), out[0][0].item<float>());
  EXPECT_GT(out[1][0].item<float>(), out[1][2].item<float>());
}

TEST(ObjectnessEnsembleTest, RefusesScoresOfTheWrongLength) {
  EXPECT_THROW(WithObjectnessLogProbabilities(torch::zeros({2, 3}), torch::tensor({0.5f}), 1.0),
               c10::Error);
}

}  // namespace
}  // namespace ovseg
