// Swin Transformer backbone (Liu et al. 2021) as Mask2Former uses it: patch embedding,
// four stages of window attention blocks (every second block on windows shifted by half
// a window, with the cross-region mask), relative position bias, patch merging between
// stages and a LayerNorm on each stage's output. Module names are HuggingFace's
// SwinBackbone names, so `model.pixel_level_module.encoder.*` loads key for key.
//
// Behaviour matches HF's SwinBackbone (which partitions always): feature maps are padded
// to whole windows and every odd block shifts, whatever the resolution.
#ifndef OVSEG_MODEL_MASK2FORMER_SWIN_BACKBONE_H_
#define OVSEG_MODEL_MASK2FORMER_SWIN_BACKBONE_H_

#include <torch/torch.h>

#include <string>
#include <vector>

#include "model/mask2former/backbone.h"

namespace ovseg {

struct SwinConfig {
  int64_t embed_dim = 96;
  std::vector<int64_t> depths = {2, 2, 6, 2};
  std::vector<int64_t> heads = {3, 6, 12, 24};
  int64_t window = 7;
  int64_t patch = 4;
  int64_t mlp_hidden_ratio = 4;

  // The configurations of the public Mask2Former checkpoints (B and L: 384-pixel
  // pre-training, window 12).
  static SwinConfig Tiny();
  static SwinConfig Small();
  static SwinConfig Base();
  static SwinConfig Large();
};

class SwinBlockImpl : public torch::nn::Module {
 public:
  SwinBlockImpl(int64_t dim, int64_t heads, int64_t window, int64_t shift, int64_t mlp_hidden);
  // x [B, H*W, C] -> same shape.
  torch::Tensor forward(const torch::Tensor& x, int64_t height, int64_t width);

 private:
  torch::Tensor WindowAttention(const torch::Tensor& windows, const torch::Tensor& mask);
  int64_t heads_, window_, shift_;
  torch::nn::LayerNorm layernorm_before_{nullptr}, layernorm_after_{nullptr};
  torch::nn::Linear query_{nullptr}, key_{nullptr}, value_{nullptr}, attention_output_{nullptr};
  torch::nn::Linear intermediate_{nullptr}, output_{nullptr};
  torch::Tensor relative_position_bias_table_;
  torch::Tensor relative_position_index_;  // [window^2 * window^2], not a checkpoint tensor
};
TORCH_MODULE(SwinBlock);

class SwinBackboneImpl : public BackboneImpl {
 public:
  explicit SwinBackboneImpl(const SwinConfig& config);
  std::vector<torch::Tensor> Features(const torch::Tensor& images) override;
  std::vector<int64_t> channels() const override;
  const SwinConfig& config() const { return config_; }

 private:
  SwinConfig config_;
  torch::nn::Conv2d patch_projection_{nullptr};
  torch::nn::LayerNorm patch_norm_{nullptr};
  std::vector<std::vector<SwinBlock>> blocks_;       // per stage
  std::vector<torch::nn::LayerNorm> merge_norms_;    // per stage but the last
  std::vector<torch::nn::Linear> merge_reductions_;  // per stage but the last
  std::vector<torch::nn::LayerNorm> stage_norms_;
};
TORCH_MODULE(SwinBackbone);

}  // namespace ovseg

#endif  // OVSEG_MODEL_MASK2FORMER_SWIN_BACKBONE_H_
