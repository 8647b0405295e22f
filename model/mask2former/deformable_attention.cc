#include "model/mask2former/deformable_attention.h"

#include "model/mask2former/deformable_sampling_cpu.h"

namespace ovseg {
namespace F = torch::nn::functional;

namespace {

torch::Tensor SampleWithGridSample(const torch::Tensor& value, const LevelShapes& shapes,
                                   const torch::Tensor& locations, const torch::Tensor& weights) {
  const int64_t b = value.size(0), heads = value.size(2), d = value.size(3);
  const int64_t q = locations.size(1), levels = locations.size(3), points = locations.size(4);
  // grid_sample wants [-1, 1]; align_corners=false maps -1 and 1 to the outer pixel edges.
  const torch::Tensor grids = (locations * 2 - 1).to(value.scalar_type());
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

torch::Tensor SampleWithGather(const torch::Tensor& value, const LevelShapes& shapes,
                               const torch::Tensor& locations, const torch::Tensor& weights) {
  const int64_t b = value.size(0), s = value.size(1), heads = value.size(2), d = value.size(3);
  const int64_t q = locations.size(1), levels = locations.size(3);
  std::vector<float> heights, widths;
  std::vector<int64_t> starts;
  int64_t start = 0;
  for (const auto& [h, w] : shapes) {
    heights.push_back(static_cast<float>(h));
    widths.push_back(static_cast<float>(w));
    starts.push_back(start);
    start += h * w;
  }
  TORCH_CHECK(start == s, "deformable attention: level shapes cover ", start,
              " positions, value has ", s);
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(value.device());
  const auto i64 = torch::TensorOptions().dtype(torch::kLong).device(value.device());
  // Shapes broadcast against [B, Q, heads, levels, points].
  const torch::Tensor hs = torch::tensor(heights, f32).view({1, 1, 1, levels, 1});
  const torch::Tensor ws = torch::tensor(widths, f32).view({1, 1, 1, levels, 1});
  // Row of (image, head, level start) in the [B * heads * S, d] table.
  const torch::Tensor base = (torch::arange(b, i64).view({b, 1, 1, 1, 1}) * heads +
                              torch::arange(heads, i64).view({1, 1, heads, 1, 1})) *
                                 s +
                             torch::tensor(starts, i64).view({1, 1, 1, levels, 1});
  // align_corners=false: pixel centres sit at (i + 0.5) / size.
  const torch::Tensor px = locations.select(-1, 0).to(torch::kFloat32) * ws - 0.5;
  const torch::Tensor py = locations.select(-1, 1).to(torch::kFloat32) * hs - 0.5;
  const torch::Tensor x0 = px.floor(), y0 = py.floor();
  const torch::Tensor fx = px - x0, fy = py - y0;
  const torch::Tensor attention = weights.to(torch::kFloat32);
  std::vector<torch::Tensor> rows, row_weights;
  for (const auto& [dx, dy] : {std::pair{0, 0}, {1, 0}, {0, 1}, {1, 1}}) {
    const torch::Tensor xi = x0 + dx, yi = y0 + dy;
    const torch::Tensor inside = (xi >= 0) & (xi < ws) & (yi >= 0) & (yi < hs);
    // Zero padding: corners outside the map weigh nothing (their row is any valid one).
    rows.push_back(torch::where(inside, base + (yi * ws + xi).to(torch::kLong), base));
    row_weights.push_back((dx ? fx : 1 - fx) * (dy ? fy : 1 - fy) * inside * attention);
  }
  const torch::Tensor index = torch::stack(rows, -1).reshape({b * q * heads, -1});
  const torch::Tensor per_row =
      torch::stack(row_weights, -1).reshape({b * q * heads, -1}).to(value.scalar_type());
  const torch::Tensor table = value.permute({0, 2, 1, 3}).reshape({b * heads * s, d});
  const torch::Tensor out = std::get<0>(at::embedding_bag(
      table, index.flatten(), torch::arange(0, index.numel(), index.size(1), i64),
      /*scale_grad_by_freq=*/false, /*mode=sum*/ 0, /*sparse=*/false, per_row.flatten()));
  return out.view({b, q, heads * d});
}

}  // namespace

torch::Tensor MultiScaleDeformableAttention(const torch::Tensor& value, const LevelShapes& shapes,
                                            const torch::Tensor& locations,
                                            const torch::Tensor& weights,
                                            DeformableSampling sampling) {
  TORCH_CHECK(static_cast<int64_t>(shapes.size()) == locations.size(3),
              "deformable attention: ", shapes.size(), " level shapes for ", locations.size(3),
              " levels");
  if (sampling == DeformableSampling::kAuto) {
    const bool wants_grad =
        torch::GradMode::is_enabled() &&
        (value.requires_grad() || locations.requires_grad() || weights.requires_grad());
    const bool kernel_dtype =
        value.scalar_type() == torch::kFloat32 || value.scalar_type() == torch::kBFloat16;
    sampling = !value.is_cpu()               ? DeformableSampling::kGridSample
               : wants_grad || !kernel_dtype ? DeformableSampling::kGather
                                             : DeformableSampling::kCpuKernel;
  }
  switch (sampling) {
    case DeformableSampling::kCpuKernel:
      return DeformableSamplingCpu(value, shapes, locations, weights);
    case DeformableSampling::kGather:
      return SampleWithGather(value, shapes, locations, weights);
    default:
      return SampleWithGridSample(value, shapes, locations, weights);
  }
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
  // Locations in fp32 (see PixelDecoder): reduced precision would misplace samples.
  const torch::Tensor norm = torch::tensor(normaliser, queries.options().dtype(torch::kFloat32))
                                 .view({1, 1, 1, levels_, 1, 2});
  const torch::Tensor locations =
      reference_points.to(torch::kFloat32).view({b, q, 1, levels_, 1, 2}) +
      offsets.to(torch::kFloat32) / norm;
  return output_proj(MultiScaleDeformableAttention(value, shapes, locations, weights));
}

}  // namespace ovseg
