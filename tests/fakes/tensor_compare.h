// Comparison helper for tests against reference vectors: the largest absolute difference
// relative to the reference's largest magnitude (at least 1), so that logits of any scale
// are held to the same relative tolerance.
#ifndef OVSEG_TESTS_FAKES_TENSOR_COMPARE_H_
#define OVSEG_TESTS_FAKES_TENSOR_COMPARE_H_

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>

namespace ovseg::testing {

inline double RelativeDiff(const torch::Tensor& actual, const torch::Tensor& reference) {
  EXPECT_EQ(actual.sizes(), reference.sizes());
  if (actual.sizes() != reference.sizes()) return 1e9;
  const torch::Tensor r = reference.to(torch::kFloat32);
  const double scale = std::max(1.0, r.abs().max().item<double>());
  return (actual.to(torch::kFloat32) - r).abs().max().item<double>() / scale;
}

}  // namespace ovseg::testing

#endif  // OVSEG_TESTS_FAKES_TENSOR_COMPARE_H_
