#include "model/serving/guided_mask_filter.h"

#include <algorithm>
#include <vector>

#include "model/serving/resize_maps.h"

namespace ovseg {
namespace {

// Sums over the window [i - radius, i + radius] along `dim`, cut at the ends, through
// prefix sums in double (so that a difference of two large sums keeps its digits).
torch::Tensor WindowSum(const torch::Tensor& x, int64_t dim, int64_t radius) {
  if (dim < 0) dim += x.dim();
  const int64_t n = x.size(dim);
  std::vector<int64_t> shape = x.sizes().vec();
  shape[static_cast<size_t>(dim)] = 1;
  const torch::Tensor prefix = torch::cat(
      {torch::zeros(shape, x.options().dtype(torch::kFloat64)), x.to(torch::kFloat64).cumsum(dim)},
      dim);
  const torch::Tensor i = torch::arange(n, torch::kLong);
  const torch::Tensor hi = (i + radius).clamp_max(n - 1) + 1, lo = (i - radius).clamp_min(0);
  return (prefix.index_select(dim, hi) - prefix.index_select(dim, lo)).to(x.scalar_type());
}

// Window means over the last two dims; `count` holds each window's pixel count [H, W].
torch::Tensor WindowMean(const torch::Tensor& x, const torch::Tensor& count, int64_t radius) {
  return WindowSum(WindowSum(x, -1, radius), -2, radius) / count;
}

}  // namespace

torch::Tensor GuidedFilterMaskLogits(const uint8_t* rgb, int64_t height, int64_t width,
                                     const torch::Tensor& logits, int64_t radius, double eps) {
  torch::InferenceMode inference;
  const int64_t n = logits.size(0);
  if (n == 0) return logits;
  // The guide at full size: colour in [0, 1], [3, H, W].
  const torch::Tensor guide =
      torch::from_blob(const_cast<uint8_t*>(rgb), {height, width, 3}, torch::kUInt8)
          .permute({2, 0, 1})
          .to(torch::kFloat32)
          .div(255.0f);
  // He and Sun's fast guided filter: the window statistics and the linear coefficients at
  // 1 / kGuidedFilterSubsampling of the size, the coefficients then upsampled and applied
  // to the full-size colour, which is where the edges come from.
  const int64_t h = (height + kGuidedFilterSubsampling - 1) / kGuidedFilterSubsampling;
  const int64_t w = (width + kGuidedFilterSubsampling - 1) / kGuidedFilterSubsampling;
  const int64_t r =
      std::max<int64_t>(1, (radius + kGuidedFilterSubsampling / 2) / kGuidedFilterSubsampling);
  const torch::Tensor small_guide = ResizeMaps(guide, h, w);  // [3, h, w]
  const torch::Tensor count = WindowSum(WindowSum(torch::ones({h, w}), -1, r), -2, r);
  const torch::Tensor mean_guide = WindowMean(small_guide, count, r);  // [3, h, w]
  // The colour's 3 x 3 covariance per window plus eps, inverted once for every proposal;
  // its nine entries as [h, w] maps, applied below as multiply-adds (far cheaper than
  // batched 3 x 3 products).
  torch::Tensor covariance = torch::empty({h, w, 3, 3});
  for (int64_t a = 0; a < 3; ++a) {
    for (int64_t b = a; b < 3; ++b) {
      const torch::Tensor c =
          WindowMean(small_guide[a] * small_guide[b], count, r) - mean_guide[a] * mean_guide[b];
      covariance.select(2, a).select(2, b).copy_(c);
      covariance.select(2, b).select(2, a).copy_(c);
    }
  }
  covariance += eps * torch::eye(3);
  const torch::Tensor inverse = torch::linalg_inv(covariance);  // [h, w, 3, 3]
  torch::Tensor inv[3][3];
  for (int64_t j = 0; j < 3; ++j) {
    for (int64_t k = 0; k < 3; ++k) inv[j][k] = inverse.select(2, j).select(2, k).contiguous();
  }

  const int64_t chunk = std::max<int64_t>(1, kGuidedFilterChunkElements / (4 * height * width));
  std::vector<torch::Tensor> out;
  for (int64_t start = 0; start < n; start += chunk) {
    const torch::Tensor p = ResizeMaps(
        torch::sigmoid(logits.narrow(0, start, std::min(chunk, n - start)).to(torch::kFloat32)), h,
        w);  // [C, h, w]
    // Window means of p and of p times each colour channel, in one pass: [4, C, h, w].
    const torch::Tensor means = WindowMean(
        torch::stack({p, p * small_guide[0], p * small_guide[1], p * small_guide[2]}), count, r);
    const torch::Tensor mean_p = means[0];
    torch::Tensor cov[3];  // cov(I_k, p) per window
    for (int64_t k = 0; k < 3; ++k) cov[k] = means[k + 1] - mean_guide[k] * mean_p;
    // a = (Sigma + eps U)^-1 cov(I, p), b = mean(p) - a . mean(I).
    torch::Tensor a[3];
    torch::Tensor b = mean_p.clone();
    for (int64_t j = 0; j < 3; ++j) {
      a[j] = inv[j][0] * cov[0] + inv[j][1] * cov[1] + inv[j][2] * cov[2];
      b -= a[j] * mean_guide[j];
    }
    // The coefficients' window means, at full size: [4, C, H, W].
    const torch::Tensor ab =
        ResizeMaps(WindowMean(torch::stack({a[0], a[1], a[2], b}), count, r).flatten(0, 1), height,
                   width)
            .view({4, -1, height, width});
    const torch::Tensor q = ab[0] * guide[0] + ab[1] * guide[1] + ab[2] * guide[2] + ab[3];
    out.push_back(torch::logit(q.clamp(1e-4, 1.0 - 1e-4)));
  }
  return torch::cat(out, 0);
}

}  // namespace ovseg
