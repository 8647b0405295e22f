// Text-generated convolution kernels (FGAseg, Sec. III-B/C): a linear layer turns each
// class embedding into a KxK kernel over the visual channels plus a bias, and each class's
// kernel is convolved with its own image's feature map.
//
// - LocalAlignment (LCS, "local consistency similarity"): over the L2-normalised dense
//   features, kernels softmax-normalised over their KxK taps per channel; part of serving.
// - T2PAlignment (the T2P alignment branch): over a 4x finer projection of the features
//   (two 2x bilinear upsamplings with conv-BN-ReLU, then a 1x1 conv), raw kernels; trained
//   against the ground-truth class masks, never run when serving.
// Module names as the official code (Local_align.txt; proj.vis.*, proj.txt).
#ifndef OVSEG_MODEL_FGASEG_TEXT_KERNELS_H_
#define OVSEG_MODEL_FGASEG_TEXT_KERNELS_H_

#include <torch/torch.h>

namespace ovseg {

// Per-image, per-class convolution: features [B, C, H, W], kernels [B, T, C, K, K],
// bias [B, T] -> [B, T, H, W] (zero padding K/2).
torch::Tensor PerClassConvolution(const torch::Tensor& features, const torch::Tensor& kernels,
                                  const torch::Tensor& bias);

class LocalAlignmentImpl : public torch::nn::Module {
 public:
  LocalAlignmentImpl(int64_t text_dim, int64_t vision_dim, int64_t kernel_size);
  // image [B, C, H, W]; text [B, T, D]. Returns [B, T, H, W].
  torch::Tensor forward(const torch::Tensor& image, const torch::Tensor& text);

 private:
  int64_t vision_dim_, kernel_size_;
  torch::nn::Linear txt_{nullptr};
};
TORCH_MODULE(LocalAlignment);

class T2PAlignmentImpl : public torch::nn::Module {
 public:
  // vision_dim: the projection's width (half the input's channels, as the official code).
  T2PAlignmentImpl(int64_t text_dim, int64_t vision_dim, int64_t kernel_size);
  // image [B, 2 * vision_dim, H, W]; text [B, T, D]. Returns [B, T, 4H, 4W] logits.
  torch::Tensor forward(const torch::Tensor& image, const torch::Tensor& text);

 private:
  int64_t vision_dim_, kernel_size_;
  torch::nn::Sequential conv_a_{nullptr}, conv_b_{nullptr};
  torch::nn::Conv2d conv_out_{nullptr};
  torch::nn::Linear txt_{nullptr};
};
TORCH_MODULE(T2PAlignment);

}  // namespace ovseg

#endif  // OVSEG_MODEL_FGASEG_TEXT_KERNELS_H_
