#include "model/runtime/attention_ops.h"

#include <cmath>
#include <limits>
#include <optional>

namespace ovseg {

torch::Tensor SplitHeads(const torch::Tensor& x, int64_t heads) {
  return x.view({x.size(0), x.size(1), heads, -1}).transpose(1, 2);
}

torch::Tensor MergeHeads(const torch::Tensor& x) {
  return x.transpose(1, 2).reshape({x.size(0), x.size(2), -1});
}

torch::Tensor MaskedAttention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, const torch::Tensor& allowed) {
  if (q.is_cpu() && q.scalar_type() != torch::kFloat32) {
    torch::Tensor scores =
        torch::matmul(q, k.transpose(-1, -2)) * (1.0 / std::sqrt(static_cast<double>(q.size(-1))));
    if (allowed.defined()) {
      scores = scores.masked_fill(allowed.logical_not(), -std::numeric_limits<float>::infinity());
    }
    return torch::matmul(torch::softmax(scores, -1), v);
  }
  return at::scaled_dot_product_attention(
      q, k, v, allowed.defined() ? std::optional<torch::Tensor>(allowed) : std::nullopt);
}

}  // namespace ovseg
