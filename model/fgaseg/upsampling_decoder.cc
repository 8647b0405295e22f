#include "model/fgaseg/upsampling_decoder.h"

namespace ovseg {

torch::nn::Sequential DoubleConv(int64_t in, int64_t out) {
  TORCH_CHECK(out >= 16, "fgaseg decoder: width ", out, " is below 16 (GroupNorm of width / 16)");
  auto conv = [](int64_t i, int64_t o) {
    return torch::nn::Conv2d(torch::nn::Conv2dOptions(i, o, 3).padding(1).bias(false));
  };
  return torch::nn::Sequential(conv(in, out), torch::nn::GroupNorm(out / 16, out),
                               torch::nn::ReLU(), conv(out, out),
                               torch::nn::GroupNorm(out / 16, out), torch::nn::ReLU());
}

UpBlockImpl::UpBlockImpl(int64_t in, int64_t out, int64_t guidance) {
  up_ =
      register_module("up", torch::nn::ConvTranspose2d(
                                torch::nn::ConvTranspose2dOptions(in, in - guidance, 2).stride(2)));
  auto conv = register_module("conv", std::make_shared<torch::nn::Module>());
  conv_ = conv->register_module("double_conv", DoubleConv(in, out));
}

torch::Tensor UpBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& guidance) {
  torch::Tensor h = up_(x);
  if (guidance.defined()) h = torch::cat({h, guidance}, 1);
  return conv_->forward(h);
}

}  // namespace ovseg
