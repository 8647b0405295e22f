// Mask2Former's pixel decoder (MSDeformAttnPixelDecoder): the backbone's 1/8, 1/16 and 1/32
// features projected to one width, refined jointly by a multi-scale deformable attention
// encoder (sine positions plus a learned per-level embedding), then an FPN path down to
// 1/4 whose last map, projected, gives the mask features. Parameter names follow
// HuggingFace's Mask2FormerPixelDecoder, so its checkpoints load key for key.
#ifndef OVSEG_MODEL_MASK2FORMER_PIXEL_DECODER_H_
#define OVSEG_MODEL_MASK2FORMER_PIXEL_DECODER_H_

#include <torch/torch.h>

#include <vector>

#include "model/mask2former/deformable_attention.h"

namespace ovseg {

struct PixelDecoderConfig {
  // Backbone channels at strides 4, 8, 16, 32 (e.g. 256/512/1024/2048 for ResNet-50,
  // 96/192/384/768 for Swin-T).
  std::vector<int64_t> in_channels;
  int64_t feature_dim = 256;  // HF feature_size
  int64_t mask_dim = 256;     // HF mask_feature_size
  int64_t heads = 8;          // HF num_attention_heads
  int64_t points = 4;
  int64_t encoder_layers = 6;  // HF encoder_layers
  int64_t ffn_dim = 1024;      // HF encoder_feedforward_dim
  int64_t common_stride = 4;   // Mask features' stride
  // Not in Mask2Former: add a learned projection of each encoder position's sine encoding
  // to its input features, so that what the encoder, the FPN and the mask features carry
  // says where a pixel is. Mask logits are query . pixel-embedding, so without it two
  // instances that look alike get the same embedding wherever they are, and a query can
  // only cover both; deep backbones learn position from their receptive fields and
  // padding, a tiny one trained from scratch does not. Measured on the demo's generator:
  // it halves the merged medium things but not the small ones, so the demo leaves it off
  // (docs/results.md, "Merged instances"). Off for the public checkpoints; the weights
  // file says which (a "position_projection" tensor).
  bool positions_in_features = false;
  // Not in Mask2Former either: add a learned 1x1 projection of the sine encoding of each
  // mask-feature pixel's position to the mask features themselves, so that a query's
  // mask logit (query . pixel-embedding) can depend on where a pixel is at the mask
  // stride; positions_in_features reach the 1/4 features only upsampled from the
  // encoder's 1/8 and coarser levels (CondInst and SOLO give their mask branches pixel
  // coordinates for this reason). A 1500-step probe on the demo's generator found fewer
  // things with it (docs/results.md, "Merged instances"). The weights file says which
  // (a "mask_position_projection" tensor).
  bool positions_in_mask_features = false;
};

struct PixelDecoderOutput {
  torch::Tensor mask_features;             // [B, mask_dim, H/4, W/4]
  std::vector<torch::Tensor> multi_scale;  // [B, feature_dim, h, w] at 1/32, 1/16, 1/8
};

class DeformableEncoderLayerImpl : public torch::nn::Module {
 public:
  DeformableEncoderLayerImpl(int64_t dim, int64_t heads, int64_t levels, int64_t points,
                             int64_t ffn_dim);
  // Post-norm: x = LN(x + attn(x + pos)); x = LN(x + FFN(x)).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& pos,
                        const torch::Tensor& reference_points, const LevelShapes& shapes);
  MsDeformAttn self_attn{nullptr};
  torch::nn::LayerNorm self_attn_layer_norm{nullptr}, final_layer_norm{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(DeformableEncoderLayer);

class PixelDecoderImpl : public torch::nn::Module {
 public:
  explicit PixelDecoderImpl(const PixelDecoderConfig& config);
  // features: the backbone's maps at strides 4, 8, 16, 32.
  PixelDecoderOutput forward(const std::vector<torch::Tensor>& features);

  const PixelDecoderConfig& config() const { return config_; }

 private:
  PixelDecoderConfig config_;
  int64_t fpn_levels_;
  torch::Tensor level_embed_;
  torch::nn::ModuleList input_projections_{nullptr};
  torch::nn::ModuleList encoder_layers_{nullptr};
  torch::nn::Conv2d mask_projection_{nullptr};
  torch::nn::Linear position_projection_{nullptr};       // positions_in_features only
  torch::nn::Conv2d mask_position_projection_{nullptr};  // positions_in_mask_features only
  // FPN steps in the order they run, coarse to fine (HF names them fine to coarse).
  std::vector<torch::nn::Sequential> lateral_, output_;
};
TORCH_MODULE(PixelDecoder);

}  // namespace ovseg

#endif  // OVSEG_MODEL_MASK2FORMER_PIXEL_DECODER_H_
