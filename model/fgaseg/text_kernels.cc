#include "model/fgaseg/text_kernels.h"

namespace ovseg {
namespace F = torch::nn::functional;
namespace {

torch::nn::Sequential ConvBnRelu(int64_t in, int64_t out) {
  return torch::nn::Sequential(
      torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1).bias(false)),
      torch::nn::BatchNorm2d(out), torch::nn::ReLU());
}

torch::Tensor Upsample2x(const torch::Tensor& x) {
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .scale_factor(std::vector<double>{2.0, 2.0})
                               .mode(torch::kBilinear)
                               .align_corners(false));
}

}  // namespace

torch::Tensor PerClassConvolution(const torch::Tensor& features, const torch::Tensor& kernels,
                                  const torch::Tensor& bias) {
  const int64_t b = features.size(0), c = features.size(1), h = features.size(2),
                w = features.size(3), t = kernels.size(1), k = kernels.size(-1);
  // One grouped convolution: group i is image i, its T output channels are its classes.
  return F::conv2d(features.reshape({1, b * c, h, w}), kernels.reshape({b * t, c, k, k}),
                   F::Conv2dFuncOptions().padding(k / 2).groups(b).bias(bias.reshape({b * t})))
      .view({b, t, h, w});
}

LocalAlignmentImpl::LocalAlignmentImpl(int64_t text_dim, int64_t vision_dim, int64_t kernel_size)
    : vision_dim_(vision_dim), kernel_size_(kernel_size) {
  txt_ = register_module("txt",
                         torch::nn::Linear(text_dim, vision_dim * kernel_size * kernel_size + 1));
}

torch::Tensor LocalAlignmentImpl::forward(const torch::Tensor& image, const torch::Tensor& text) {
  const int64_t b = text.size(0), t = text.size(1), k = kernel_size_;
  const torch::Tensor features = F::normalize(image, F::NormalizeFuncOptions().dim(1));
  const torch::Tensor generated = txt_(F::normalize(text, F::NormalizeFuncOptions().dim(-1)));
  // Softmax over each channel's KxK taps, then renormalised to sum 1 as the reference.
  torch::Tensor kernels = torch::softmax(
      generated.narrow(-1, 0, vision_dim_ * k * k).reshape({b, t, vision_dim_, k * k}), -1);
  kernels = kernels / kernels.sum(-1, /*keepdim=*/true);
  return PerClassConvolution(features, kernels.view({b, t, vision_dim_, k, k}),
                             generated.select(-1, vision_dim_ * k * k));
}

T2PAlignmentImpl::T2PAlignmentImpl(int64_t text_dim, int64_t vision_dim, int64_t kernel_size)
    : vision_dim_(vision_dim), kernel_size_(kernel_size) {
  // Official layout: vis = [Upsample, conv-BN-ReLU, Upsample, conv-BN-ReLU, Conv1x1].
  auto vis = register_module("vis", std::make_shared<torch::nn::Module>());
  conv_a_ = vis->register_module("1", ConvBnRelu(2 * vision_dim, 2 * vision_dim));
  conv_b_ = vis->register_module("3", ConvBnRelu(2 * vision_dim, vision_dim));
  conv_out_ = vis->register_module("4", torch::nn::Conv2d(vision_dim, vision_dim, 1));
  txt_ = register_module("txt",
                         torch::nn::Linear(text_dim, vision_dim * kernel_size * kernel_size + 1));
}

torch::Tensor T2PAlignmentImpl::forward(const torch::Tensor& image, const torch::Tensor& text) {
  const int64_t b = text.size(0), t = text.size(1), k = kernel_size_;
  const torch::Tensor features =
      conv_out_(conv_b_->forward(Upsample2x(conv_a_->forward(Upsample2x(image)))));
  const torch::Tensor generated = txt_(text);
  return PerClassConvolution(
      features, generated.narrow(-1, 0, vision_dim_ * k * k).reshape({b, t, vision_dim_, k, k}),
      generated.select(-1, vision_dim_ * k * k));
}

}  // namespace ovseg
