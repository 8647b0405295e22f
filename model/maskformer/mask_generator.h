// Where mask proposals come from (docs/design.md, "Mask generator"): a generator looks at
// the images and returns, per image, its mask logits at 1/4 of the input's resolution and
// an objectness score per mask, best first. Mask2Former implements it
// (model/mask2former/mask2former_generator.h); client-supplied regions bypass it.
#ifndef OVSEG_MODEL_MASKFORMER_MASK_GENERATOR_H_
#define OVSEG_MODEL_MASKFORMER_MASK_GENERATOR_H_

#include <torch/torch.h>

#include <string>
#include <vector>

namespace ovseg {

struct MaskProposals {
  torch::Tensor logits;      // [N, ceil(H / 4), ceil(W / 4)], > 0 inside
  torch::Tensor objectness;  // [N], descending; 1 - void probability for Mask2Former
};

class MaskGenerator {
 public:
  virtual ~MaskGenerator() = default;
  // images: [B, 3, H, W] CLIP-normalised, on the model's device. One entry per image,
  // every proposal of it; the caller keeps as many of the best as it wants.
  virtual std::vector<MaskProposals> Generate(const torch::Tensor& images) = 0;
  virtual std::string name() const = 0;
};

}  // namespace ovseg

#endif  // OVSEG_MODEL_MASKFORMER_MASK_GENERATOR_H_
