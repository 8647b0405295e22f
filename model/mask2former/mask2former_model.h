// The whole Mask2Former (Cheng et al. 2022): backbone -> multi-scale deformable-attention
// pixel decoder -> masked-attention transformer decoder. Submodules are named "backbone",
// "pixel_decoder" and "transformer"; mask2former_weights.h maps HuggingFace's
// Mask2FormerForUniversalSegmentation keys onto them.
#ifndef OVSEG_MODEL_MASK2FORMER_MASK2FORMER_MODEL_H_
#define OVSEG_MODEL_MASK2FORMER_MASK2FORMER_MODEL_H_

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "model/mask2former/backbone.h"
#include "model/mask2former/masked_attention_decoder.h"
#include "model/mask2former/pixel_decoder.h"
#include "model/mask2former/resnet_backbone.h"
#include "model/mask2former/swin_backbone.h"

namespace ovseg {

struct Mask2FormerConfig {
  enum class Backbone { kResNet, kSwin };
  Backbone backbone = Backbone::kSwin;
  ResNetConfig resnet;
  SwinConfig swin;
  // pixel_decoder.in_channels follows the backbone; decoder.in_channels and mask_dim follow
  // the pixel decoder (the constructor fills them in).
  PixelDecoderConfig pixel_decoder;
  MaskedAttentionDecoderConfig decoder;

  // Shapes of the public COCO-panoptic checkpoints (133 classes, 200 queries for Swin-B/L).
  static Mask2FormerConfig ResNet50Coco();
  static Mask2FormerConfig SwinCoco(const SwinConfig& swin, int64_t queries);
  // Small class-agnostic configs (one "object" class + void) that train on 2 CPU cores in
  // minutes at 128-256 pixels: 3 decoder layers, 50 queries, width 64.
  static Mask2FormerConfig TinyResNet();
  static Mask2FormerConfig TinySwin();

  std::string Describe() const;
};

// Images are padded to a multiple of this before the backbone (Swin's four 2x merges and
// the 1/32 level need it).
constexpr int64_t kMask2FormerSizeDivisibility = 32;
// The decoder's mask logits are at 1/kMask2FormerMaskStride of the input.
constexpr int64_t kMask2FormerMaskStride = 4;

class Mask2FormerImpl : public torch::nn::Module {
 public:
  explicit Mask2FormerImpl(Mask2FormerConfig config);
  // images [B, 3, H, W], ImageNet-normalised, H and W multiples of 32. Returns the
  // decoder's layers + 1 predictions (mask logits at 1/4) with all_stages, else the final
  // one only; see MaskedAttentionDecoder.
  std::vector<MaskPrediction> forward(const torch::Tensor& images, bool all_stages = true);

  const Mask2FormerConfig& config() const { return config_; }
  BackboneImpl& backbone() { return *backbone_; }
  PixelDecoder& pixel_decoder() { return pixel_decoder_; }
  MaskedAttentionDecoder& transformer() { return transformer_; }

 private:
  Mask2FormerConfig config_;
  std::shared_ptr<BackboneImpl> backbone_;
  PixelDecoder pixel_decoder_{nullptr};
  MaskedAttentionDecoder transformer_{nullptr};
};
TORCH_MODULE(Mask2Former);

}  // namespace ovseg

#endif  // OVSEG_MODEL_MASK2FORMER_MASK2FORMER_MODEL_H_
