// Mask2Former as ovseg's mask generator (docs/design.md, "Mask generator"): class-agnostic
// proposals ranked by objectness = 1 - p(void), where p is the softmax over the class
// head (its class predictions are otherwise ignored, as FOV-Seg does).
//
// Input handling: the pipeline hands over CLIP-normalised images; Mask2Former was trained
// on ImageNet normalisation, so the generator re-normalises (one affine map per channel),
// pads right and bottom with zeros (the normalised mean, as detectron2 pads) to a multiple
// of 32, and crops the logits back to the image's own extent.
#ifndef OVSEG_MODEL_MASK2FORMER_MASK2FORMER_GENERATOR_H_
#define OVSEG_MODEL_MASK2FORMER_MASK2FORMER_GENERATOR_H_

#include <torch/torch.h>

#include <string>
#include <vector>

#include "model/mask2former/mask2former_model.h"
#include "model/maskformer/mask_generator.h"

namespace ovseg {

// CLIP-normalised images [B, 3, H, W] as Mask2Former reads them: ImageNet-normalised,
// padded right and bottom to a multiple of 32, in the input's dtype. Training feeds the
// generator through this too, so it learns on exactly what it serves.
torch::Tensor ClipToMask2FormerInput(const torch::Tensor& images);

// objectness [B, Q] = 1 - softmax(class_logits)[..., void], computed in fp32.
torch::Tensor Objectness(const torch::Tensor& class_logits);

class Mask2FormerGenerator : public MaskGenerator {
 public:
  // `model` already on its device and dtype, in eval mode.
  explicit Mask2FormerGenerator(Mask2Former model);
  // Every query's mask, best objectness first.
  std::vector<MaskProposals> Generate(const torch::Tensor& images) override;
  std::string name() const override;

 private:
  Mask2Former model_;
};

}  // namespace ovseg

#endif  // OVSEG_MODEL_MASK2FORMER_MASK2FORMER_GENERATOR_H_
