#include "model/serving/guided_mask_filter.h"

#include <algorithm>

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
  // The guide: colour in [0, 1], [3, H, W].
  const torch::Tensor guide =
      torch::from_blob(const_cast<uint8_t*>(rgb), {height, width, 3}, torch::kUInt8)
          .permute({2, 0, 1})
          .to(torch::kFloat32)
          .div(255.0f);
  const torch::Tensor count = WindowSum(WindowSum(torch::ones({height, width}), -1, radius), -2,
                                        radius);
  const torch::Tensor mean_guide = WindowMean(guide, count, radius);  // [3, H, W]
  // The colour's 3 x 3 covariance per window plus eps, inverted once for every proposal.
  torch::Tensor covariance = torch::empty({height, width, 3, 3});
  for (int64_t a = 0; a < 3; ++a) {
    for (int64_t b = a; b < 3; ++b) {
      const torch::Tensor c =
          WindowMean(guide[a] * guide[b], count, radius) - mean_guide[a] * mean_guide[b];
      covariance.select(2, a).select(2, b).copy_(c);
      covariance.select(2, b).select(2, a).copy_(c);
    }
  }
  covariance += eps * torch::eye(3);
  const torch::Tensor inverse = torch::linalg_inv(covariance);  // [H, W, 3, 3]

  const int64_t chunk = std::max<int64_t>(1, kGuidedFilterChunkElements / (3 * height * width));
  std::vector<torch::Tensor> out;
  for (int64_t start = 0; start < n; start += chunk) {
    const torch::Tensor p = torch::sigmoid(logits.narrow(0, start, std::min(chunk, n - start))
                                               .to(torch::kFloat32));  // [C, H, W]
    const torch::Tensor mean_p = WindowMean(p, count, radius);
    // cov(I_k, p) per window: [C, H, W, 3].
    const torch::Tensor cov_guide_p =
        (WindowMean(p.unsqueeze(1) * guide.unsqueeze(0), count, radius) -
         mean_guide.unsqueeze(0) * mean_p.unsqueeze(1))
            .permute({0, 2, 3, 1});
    // a = (Sigma + eps U)^-1 cov(I, p), b = mean(p) - a . mean(I).
    const torch::Tensor a = torch::matmul(inverse.unsqueeze(0), cov_guide_p.unsqueeze(-1))
                                .squeeze(-1)
                                .permute({0, 3, 1, 2});  // [C, 3, H, W]
    const torch::Tensor b = mean_p - (a * mean_guide.unsqueeze(0)).sum(1);
    const torch::Tensor q =
        (WindowMean(a, count, radius) * guide.unsqueeze(0)).sum(1) + WindowMean(b, count, radius);
    out.push_back(torch::logit(q.clamp(1e-4, 1.0 - 1e-4)));
  }
  return torch::cat(out, 0);
}

}  // namespace ovseg
