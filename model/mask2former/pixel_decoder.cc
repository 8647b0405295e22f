#include "model/mask2former/pixel_decoder.h"

#include <cmath>
#include <string>

#include "model/mask2former/position_encoding.h"

namespace ovseg {
namespace F = torch::nn::functional;
namespace {

constexpr int64_t kLevels = 3;  // The encoder reads strides 8, 16 and 32.

torch::nn::Sequential ConvNorm(int64_t in, int64_t out, int64_t kernel, bool bias, bool relu) {
  torch::nn::Sequential s(
      torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).padding(kernel / 2).bias(bias)),
      torch::nn::GroupNorm(32, out));
  if (relu) s->push_back(torch::nn::ReLU());
  return s;
}

// Centre of every position of every level, normalised to [0, 1] as (x, y): [S, 2].
torch::Tensor ReferencePoints(const LevelShapes& shapes, const torch::TensorOptions& options) {
  std::vector<torch::Tensor> points;
  for (const auto& [h, w] : shapes) {
    const torch::Tensor y = (torch::arange(h, options) + 0.5) / h;
    const torch::Tensor x = (torch::arange(w, options) + 0.5) / w;
    const std::vector<torch::Tensor> grid = torch::meshgrid({y, x}, "ij");
    points.push_back(torch::stack({grid[1].reshape(-1), grid[0].reshape(-1)}, -1));
  }
  return torch::cat(points, 0);
}

}  // namespace

DeformableEncoderLayerImpl::DeformableEncoderLayerImpl(int64_t dim, int64_t heads, int64_t levels,
                                                       int64_t points, int64_t ffn_dim) {
  self_attn = register_module("self_attn", MsDeformAttn(dim, heads, levels, points));
  self_attn_layer_norm = register_module("self_attn_layer_norm",
                                         torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  fc1 = register_module("fc1", torch::nn::Linear(dim, ffn_dim));
  fc2 = register_module("fc2", torch::nn::Linear(ffn_dim, dim));
  final_layer_norm =
      register_module("final_layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
}

torch::Tensor DeformableEncoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& pos,
                                                  const torch::Tensor& reference_points,
                                                  const LevelShapes& shapes) {
  torch::Tensor h = self_attn_layer_norm(x + self_attn(x + pos, reference_points, x, shapes));
  return final_layer_norm(h + fc2(torch::relu(fc1(h))));
}

PixelDecoderImpl::PixelDecoderImpl(const PixelDecoderConfig& config) : config_(config) {
  TORCH_CHECK(config.in_channels.size() == 4, "pixel decoder: expected 4 backbone levels, got ",
              config.in_channels.size());
  // Levels between the encoder's finest (stride 8) and the mask features' stride get an
  // FPN step each: one for the usual stride 4.
  fpn_levels_ = static_cast<int64_t>(std::log2(8) - std::log2(config.common_stride));
  level_embed_ = register_parameter("level_embed", torch::randn({kLevels, config.feature_dim}));
  input_projections_ = register_module("input_projections", torch::nn::ModuleList());
  for (int64_t i = 0; i < kLevels; ++i) {  // Coarsest (stride 32) first.
    input_projections_->push_back(
        ConvNorm(config.in_channels[3 - i], config.feature_dim, 1, /*bias=*/true, /*relu=*/false));
  }
  auto encoder = register_module("encoder", std::make_shared<torch::nn::Module>());
  encoder_layers_ = encoder->register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.encoder_layers; ++i) {
    encoder_layers_->push_back(DeformableEncoderLayer(config.feature_dim, config.heads, kLevels,
                                                      config.points, config.ffn_dim));
  }
  if (config.positions_in_features) {
    position_projection_ = register_module(
        "position_projection", torch::nn::Linear(config.feature_dim, config.feature_dim));
  }
  if (config.positions_in_mask_features) {
    mask_position_projection_ = register_module(
        "mask_position_projection",
        torch::nn::Conv2d(torch::nn::Conv2dOptions(config.feature_dim, config.mask_dim, 1)));
  }
  mask_projection_ = register_module(
      "mask_projection",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(config.feature_dim, config.mask_dim, 1)));
  // HF names the FPN steps adapter_N / layer_N from the finest backbone level up; they run
  // coarse to fine.
  for (int64_t i = fpn_levels_ - 1; i >= 0; --i) {
    lateral_.push_back(register_module(
        "adapter_" + std::to_string(i + 1),
        ConvNorm(config.in_channels[i], config.feature_dim, 1, /*bias=*/false, /*relu=*/false)));
    output_.push_back(register_module(
        "layer_" + std::to_string(i + 1),
        ConvNorm(config.feature_dim, config.feature_dim, 3, /*bias=*/false, /*relu=*/true)));
  }
}

PixelDecoderOutput PixelDecoderImpl::forward(const std::vector<torch::Tensor>& features) {
  TORCH_CHECK(features.size() == 4, "pixel decoder: expected 4 feature maps, got ",
              features.size());
  const int64_t b = features[0].size(0);
  LevelShapes shapes;
  std::vector<torch::Tensor> inputs, positions;
  for (int64_t i = 0; i < kLevels; ++i) {
    const torch::Tensor& f = features[3 - i];
    const torch::Tensor x = input_projections_[i]->as<torch::nn::SequentialImpl>()->forward(f);
    shapes.emplace_back(x.size(2), x.size(3));
    const torch::Tensor pos =
        SinePositionEncoding(b, x.size(2), x.size(3), config_.feature_dim / 2, x.options())
            .flatten(2)
            .transpose(1, 2);
    torch::Tensor input = x.flatten(2).transpose(1, 2);
    if (position_projection_) input = input + position_projection_(pos);
    inputs.push_back(input);
    positions.push_back(pos + level_embed_[i].view({1, 1, -1}));
  }
  torch::Tensor x = torch::cat(inputs, 1);
  const torch::Tensor pos = torch::cat(positions, 1);
  // No padding inside the decoder (as the reference): every level is fully valid, so
  // each position's reference point is the same on every level. Sampling locations stay
  // in fp32 whatever the model's dtype: bf16 would misplace them by up to a third of a
  // pixel on a 168-wide level.
  const torch::Tensor reference = ReferencePoints(shapes, x.options().dtype(torch::kFloat32))
                                      .view({1, -1, 1, 2})
                                      .expand({b, -1, kLevels, 2});
  for (const auto& layer : *encoder_layers_) {
    x = layer->as<DeformableEncoderLayerImpl>()->forward(x, pos, reference, shapes);
  }
  PixelDecoderOutput out;
  int64_t start = 0;
  for (const auto& [h, w] : shapes) {
    out.multi_scale.push_back(
        x.narrow(1, start, h * w).transpose(1, 2).reshape({b, config_.feature_dim, h, w}));
    start += h * w;
  }
  torch::Tensor finest = out.multi_scale.back();
  for (int64_t i = 0; i < fpn_levels_; ++i) {
    const torch::Tensor lateral = lateral_[i]->forward(features[fpn_levels_ - 1 - i]);
    finest = output_[i]->forward(
        lateral +
        F::interpolate(finest, F::InterpolateFuncOptions()
                                   .size(std::vector<int64_t>{lateral.size(2), lateral.size(3)})
                                   .mode(torch::kBilinear)
                                   .align_corners(false)));
  }
  out.mask_features = mask_projection_(finest);
  if (mask_position_projection_) {
    out.mask_features = out.mask_features + mask_position_projection_(SinePositionEncoding(
                                                b, finest.size(2), finest.size(3),
                                                config_.feature_dim / 2, finest.options()));
  }
  return out;
}

}  // namespace ovseg
