// The upsampling blocks of FGAseg's decoder (from CAT-Seg): a 2x transposed convolution,
// concatenation with projected CLIP guidance of that resolution, and two 3x3
// conv-GroupNorm-ReLU layers. Every (image, class) map is processed independently, so a
// class that is skipped cannot change another's output. Official module names
// (up, conv.double_conv.{0,1,3,4}).
#ifndef OVSEG_MODEL_FGASEG_UPSAMPLING_DECODER_H_
#define OVSEG_MODEL_FGASEG_UPSAMPLING_DECODER_H_

#include <torch/torch.h>

namespace ovseg {

// conv3x3 -> GN(out/16) -> ReLU -> conv3x3 -> GN -> ReLU
torch::nn::Sequential DoubleConv(int64_t in, int64_t out);

class UpBlockImpl : public torch::nn::Module {
 public:
  UpBlockImpl(int64_t in, int64_t out, int64_t guidance);
  // x [N, in, h, w], one (image, class) map per row; guidance [N, guidance, 2h, 2w] (its
  // image's, per row) or undefined.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& guidance);

 private:
  torch::nn::ConvTranspose2d up_{nullptr};
  torch::nn::Sequential conv_{nullptr};
};
TORCH_MODULE(UpBlock);

}  // namespace ovseg

#endif  // OVSEG_MODEL_FGASEG_UPSAMPLING_DECODER_H_
