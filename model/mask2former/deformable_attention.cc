#include "model/mask2former/deformable_attention.h"

namespace ovseg {
namespace F = torch::nn::functional;

torch::Tensor MultiScaleDeformableAttention(const torch::Tensor& value, const LevelShapes& shapes,
                                            const torch::Tensor& locations,
                                            const torch::Tensor& weights) {
  const int64_t b = value.size(0), heads = value.size(2), d = value.size(3);
  const int64_t q = locations.size(1), levels = locations.size(3), points = locations.size(4);
  TORCH_CHECK(static_cast<int64_t>(shapes.size()) == levels,
              "deformable attention: ", shapes.size(), " level shapes for ", levels, " levels");
  // grid_sample wants [-1, 1]; align_corners=false maps -1 and 1 to the outer pixel edges.
  const torch::Tensor grids = locations * 2 - 1;
  std::vector<torch::Tensor> sampled;
  int64_t start = 0;
  for (int64_t level = 0; level < levels; ++level) {
    const auto [h, w] = shapes[level];
    // [B, h*w, heads, d] -> [B*heads, d, h, w]
    const torch::Tensor v =
        value.narrow(1, start, h * w).flatten(2).transpose(1, 2).reshape({b * heads, d, h, w});
    start += h * w;
    // [B, Q, heads, points, 2] -> [B*heads, Q, points, 2]
    const torch::Tensor grid = grids.select(3, level).transpose(1, 2).flatten(0, 1);
    sampled.push_back(F::grid_sample(v, grid,
                                     F::GridSampleFuncOptions()
                                         .mode(torch::kBilinear)
                                         .padding_mode(torch::kZeros)
                                         .align_corners(false)));  // [B*heads, d, Q, points]
  }
  TORCH_CHECK(start == value.size(1), "deformable attention: level shapes cover ", start,
              " positions, value has ", value.size(1));
  // [B*heads, 1, Q, levels*points]
  const torch::Tensor w = weights.transpose(1, 2).reshape({b * heads, 1, q, levels * points});
  const torch::Tensor out = (torch::stack(sampled, -2).flatten(-2) * w).sum(-1);  // [B*heads, d, Q]
  return out.view({b, heads * d, q}).transpose(1, 2).contiguous();
}

MsDeformAttnImpl::MsDeformAttnImpl(int64_t dim, int64_t heads, int64_t levels, int64_t points)
    : heads_(heads), levels_(levels), points_(points) {
  TORCH_CHECK(dim % heads == 0, "deformable attention: width ", dim, " not divisible by ", heads,
              " heads");
  sampling_offsets =
      register_module("sampling_offsets", torch::nn::Linear(dim, heads * levels * points * 2));
  attention_weights =
      register_module("attention_weights", torch::nn::Linear(dim, heads * levels * points));
  value_proj = register_module("value_proj", torch::nn::Linear(dim, dim));
  output_proj = register_module("output_proj", torch::nn::Linear(dim, dim));
}

torch::Tensor MsDeformAttnImpl::forward(const torch::Tensor& queries,
                                        const torch::Tensor& reference_points,
                                        const torch::Tensor& input, const LevelShapes& shapes,
                                        const torch::Tensor& padding) {
  const int64_t b = queries.size(0), q = queries.size(1), s = input.size(1);
  torch::Tensor value = value_proj(input);
  if (padding.defined()) value = value.masked_fill(padding.unsqueeze(-1), 0);
  value = value.view({b, s, heads_, -1});
  const torch::Tensor offsets = sampling_offsets(queries).view({b, q, heads_, levels_, points_, 2});
  const torch::Tensor weights =
      torch::softmax(attention_weights(queries).view({b, q, heads_, levels_ * points_}), -1)
          .view({b, q, heads_, levels_, points_});
  // Offsets are in pixels of each level: normalise by (width, height).
  std::vector<float> normaliser;
  for (const auto& [h, w] : shapes) {
    normaliser.push_back(static_cast<float>(w));
    normaliser.push_back(static_cast<float>(h));
  }
  const torch::Tensor norm =
      torch::tensor(normaliser, queries.options()).view({1, 1, 1, levels_, 1, 2});
  const torch::Tensor locations = reference_points.view({b, q, 1, levels_, 1, 2}) + offsets / norm;
  return output_proj(MultiScaleDeformableAttention(value, shapes, locations, weights));
}

}  // namespace ovseg
