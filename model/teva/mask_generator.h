// Where mask proposals come from (DESIGN.md, "Mask generator"): a generator looks at the
// images and returns, per image, N mask logits at a stated stride of the input and an
// objectness score per mask. Mask2Former implements it (a later issue); client-supplied
// regions bypass it ("classify these regions").
#ifndef OVSEG_MODEL_TEVA_MASK_GENERATOR_H_
#define OVSEG_MODEL_TEVA_MASK_GENERATOR_H_

#include <torch/torch.h>

#include <string>
#include <vector>

namespace ovseg {

struct MaskProposals {
  torch::Tensor logits;      // [N, H / stride, W / stride], > 0 inside
  torch::Tensor objectness;  // [N], higher first; 1 - void probability for Mask2Former
};

class MaskGenerator {
 public:
  virtual ~MaskGenerator() = default;
  // images: [B, 3, H, W] CLIP-normalised, on the model's device. One entry per image.
  virtual std::vector<MaskProposals> Generate(const torch::Tensor& images) = 0;
  // Input pixels per logit cell (Mask2Former: 4).
  virtual int64_t stride() const = 0;
  virtual std::string name() const = 0;
};

}  // namespace ovseg

#endif  // OVSEG_MODEL_TEVA_MASK_GENERATOR_H_
