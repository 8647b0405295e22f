// What Mask2Former needs from a backbone: feature maps at strides 4, 8, 16 and 32 of the
// input, and their channel counts (the pixel decoder's input widths).
#ifndef OVSEG_MODEL_MASK2FORMER_BACKBONE_H_
#define OVSEG_MODEL_MASK2FORMER_BACKBONE_H_

#include <torch/torch.h>

#include <vector>

namespace ovseg {

class BackboneImpl : public torch::nn::Module {
 public:
  // images [B, 3, H, W], normalised as the backbone was trained (ImageNet mean/std).
  // Returns 4 maps; map i is [B, channels()[i], ceil(H / 2^(i+2)), ceil(W / 2^(i+2))] when
  // H and W are multiples of 32.
  virtual std::vector<torch::Tensor> Features(const torch::Tensor& images) = 0;
  virtual std::vector<int64_t> channels() const = 0;
};

}  // namespace ovseg

#endif  // OVSEG_MODEL_MASK2FORMER_BACKBONE_H_
