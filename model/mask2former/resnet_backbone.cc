#include "model/mask2former/resnet_backbone.h"

#include <string>

namespace ovseg {
namespace {

torch::nn::Conv2d Conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

}  // namespace

ResNetConfig ResNetConfig::ResNet50() { return {64, {3, 4, 6, 3}, {256, 512, 1024, 2048}, true}; }
ResNetConfig ResNetConfig::Micro() { return {16, {1, 1, 1, 1}, {16, 32, 64, 128}, false}; }

FrozenBatchNormImpl::FrozenBatchNormImpl(int64_t channels, double eps) : eps_(eps) {
  weight_ = register_buffer("weight", torch::ones({channels}));
  bias_ = register_buffer("bias", torch::zeros({channels}));
  running_mean_ = register_buffer("running_mean", torch::zeros({channels}));
  running_var_ = register_buffer("running_var", torch::ones({channels}));
}

torch::Tensor FrozenBatchNormImpl::forward(const torch::Tensor& x) {
  const torch::Tensor scale = weight_ * torch::rsqrt(running_var_ + eps_);
  const torch::Tensor shift = bias_ - running_mean_ * scale;
  return x * scale.view({1, -1, 1, 1}) + shift.view({1, -1, 1, 1});
}

ResNetBlockImpl::ResNetBlockImpl(int64_t in, int64_t out, int64_t stride, bool bottleneck) {
  // Bottleneck: 1x1 reduce, 3x3 (strided), 1x1 expand; basic: two 3x3, the first strided.
  const int64_t inner = bottleneck ? out / 4 : out;
  if (bottleneck) {
    convs_ = {Conv(in, inner, 1, 1), Conv(inner, inner, 3, stride), Conv(inner, out, 1, 1)};
  } else {
    convs_ = {Conv(in, out, 3, stride), Conv(out, out, 3, 1)};
  }
  for (size_t i = 0; i < convs_.size(); ++i) {
    register_module("conv" + std::to_string(i + 1), convs_[i]);
    norms_.push_back(register_module("bn" + std::to_string(i + 1),
                                     FrozenBatchNorm(convs_[i]->options.out_channels())));
  }
  if (in != out || stride != 1) {
    downsample_ = register_module(
        "downsample", torch::nn::Sequential(Conv(in, out, 1, stride), FrozenBatchNorm(out)));
  }
}

torch::Tensor ResNetBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = x;
  for (size_t i = 0; i < convs_.size(); ++i) {
    h = norms_[i](convs_[i](h));
    if (i + 1 < convs_.size()) h = torch::relu(h);
  }
  return torch::relu(h + (downsample_ ? downsample_->forward(x) : x));
}

ResNetBackboneImpl::ResNetBackboneImpl(const ResNetConfig& config) : config_(config) {
  TORCH_CHECK(config.depths.size() == 4 && config.widths.size() == 4,
              "resnet: expected 4 stages, got ", config.depths.size());
  conv1_ = register_module("conv1", Conv(3, config.stem_width, 7, 2));
  bn1_ = register_module("bn1", FrozenBatchNorm(config.stem_width));
  int64_t in = config.stem_width;
  for (size_t s = 0; s < 4; ++s) {
    torch::nn::Sequential stage;
    for (int64_t i = 0; i < config.depths[s]; ++i) {
      const int64_t stride = (i == 0 && s > 0) ? 2 : 1;
      stage->push_back(ResNetBlock(in, config.widths[s], stride, config.bottleneck));
      in = config.widths[s];
    }
    stages_.push_back(register_module("layer" + std::to_string(s + 1), stage));
  }
}

std::vector<torch::Tensor> ResNetBackboneImpl::Features(const torch::Tensor& images) {
  torch::Tensor x = torch::relu(bn1_(conv1_(images)));
  x = torch::max_pool2d(x, 3, 2, 1);
  std::vector<torch::Tensor> features;
  for (torch::nn::Sequential& stage : stages_) {
    x = stage->forward(x);
    features.push_back(x);
  }
  return features;
}

}  // namespace ovseg
