// ResNet backbone in torchvision's layout (v1.5: the stride sits in the 3x3 convolution),
// with frozen batch norm: the affine transform from the stored statistics, never updated,
// as detectron2 and Mask2Former train it. Bottleneck blocks (ResNet-50/101) or basic
// blocks (ResNet-18/34, and the tiny configs we train ourselves). Module names are
// torchvision's (conv1, bn1, layer1.0.conv1, layer1.0.downsample.0, ...);
// mask2former_weights.h maps HuggingFace's ResNetBackbone names onto them.
#ifndef OVSEG_MODEL_MASK2FORMER_RESNET_BACKBONE_H_
#define OVSEG_MODEL_MASK2FORMER_RESNET_BACKBONE_H_

#include <torch/torch.h>

#include <vector>

#include "model/mask2former/backbone.h"

namespace ovseg {

struct ResNetConfig {
  int64_t stem_width = 64;
  std::vector<int64_t> depths = {3, 4, 6, 3};
  // Output channels of each stage (for bottlenecks 4x the inner width).
  std::vector<int64_t> widths = {256, 512, 1024, 2048};
  bool bottleneck = true;

  static ResNetConfig ResNet50();
  // A small basic-block network (one block per stage, 16-128 channels) for the configs
  // we train on CPU.
  static ResNetConfig Micro();
};

// y = x * weight / sqrt(running_var + eps) + (bias - running_mean * that scale); all four
// are buffers, so an optimiser never sees them.
class FrozenBatchNormImpl : public torch::nn::Module {
 public:
  explicit FrozenBatchNormImpl(int64_t channels, double eps = 1e-5);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  double eps_;
  torch::Tensor weight_, bias_, running_mean_, running_var_;
};
TORCH_MODULE(FrozenBatchNorm);

class ResNetBlockImpl : public torch::nn::Module {
 public:
  ResNetBlockImpl(int64_t in, int64_t out, int64_t stride, bool bottleneck);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  std::vector<torch::nn::Conv2d> convs_;
  std::vector<FrozenBatchNorm> norms_;
  torch::nn::Sequential downsample_{nullptr};
};
TORCH_MODULE(ResNetBlock);

class ResNetBackboneImpl : public BackboneImpl {
 public:
  explicit ResNetBackboneImpl(const ResNetConfig& config);
  std::vector<torch::Tensor> Features(const torch::Tensor& images) override;
  std::vector<int64_t> channels() const override { return config_.widths; }
  const ResNetConfig& config() const { return config_; }

 private:
  ResNetConfig config_;
  torch::nn::Conv2d conv1_{nullptr};
  FrozenBatchNorm bn1_{nullptr};
  std::vector<torch::nn::Sequential> stages_;
};
TORCH_MODULE(ResNetBackbone);

}  // namespace ovseg

#endif  // OVSEG_MODEL_MASK2FORMER_RESNET_BACKBONE_H_
