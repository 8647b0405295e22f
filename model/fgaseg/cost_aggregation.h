// FGAseg's cost aggregation (Sec. III-D, after CAT-Seg): the per-class cost volume
// [B, C, T, H, W] is refined alternately
// - spatially, per class: two Swin window-attention blocks (the second on shifted
//   windows) whose queries and keys also see the projected CLIP "appearance" guidance;
// - across classes, per (pooled) pixel: linear attention over the T class tokens whose
//   queries and keys also see the projected text guidance; the sequence is always
//   pad_len long (learned padding tokens), and batch-padding classes become padding
//   tokens too, so a request's answer does not depend on its batch.
// Module names as the official code (layers.N.swin_block.*, layers.N.attention.*).
#ifndef OVSEG_MODEL_FGASEG_COST_AGGREGATION_H_
#define OVSEG_MODEL_FGASEG_COST_AGGREGATION_H_

#include <torch/torch.h>

namespace ovseg {

class GuidedWindowBlockImpl : public torch::nn::Module {
 public:
  GuidedWindowBlockImpl(int64_t dim, int64_t guidance_dim, int64_t heads, int64_t window,
                        bool shifted);
  // x [N, H*W, C]; guidance [N, H*W, G] (already normalised) -> [N, H*W, C].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& guidance, int64_t height,
                        int64_t width);

 private:
  int64_t dim_, heads_, window_;
  bool shifted_;
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Linear q_{nullptr}, k_{nullptr}, v_{nullptr}, proj_{nullptr}, fc1_{nullptr},
      fc2_{nullptr};
};
TORCH_MODULE(GuidedWindowBlock);

class SpatialAggregationImpl : public torch::nn::Module {
 public:
  SpatialAggregationImpl(int64_t dim, int64_t guidance_dim, int64_t heads, int64_t window);
  // x [B, C, T, H, W]; guidance [B, G, H, W].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& guidance);

 private:
  GuidedWindowBlock block_1_{nullptr}, block_2_{nullptr};
  torch::nn::LayerNorm guidance_norm_{nullptr};
};
TORCH_MODULE(SpatialAggregation);

// elu(x) + 1 feature-map linear attention (Katharopoulos et al.), as CAT-Seg. q [N, L, h,
// d], k/v [N, S, h, d]; `key_valid` [N, S] bool or undefined.
torch::Tensor LinearAttention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, const torch::Tensor& key_valid = {});

class ClassAggregationImpl : public torch::nn::Module {
 public:
  ClassAggregationImpl(int64_t dim, int64_t guidance_dim, int64_t heads, int64_t pooling,
                       int64_t pad_len);
  // x [B, C, T, H, W]; guidance [B, T, G]; class_valid [B, T] bool.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& guidance,
                        const torch::Tensor& class_valid);

 private:
  int64_t heads_, pooling_, pad_len_;
  torch::Tensor padding_tokens_, padding_guidance_;
  torch::nn::Linear q_{nullptr}, k_{nullptr}, v_{nullptr};
  torch::nn::Sequential mlp_{nullptr};
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
};
TORCH_MODULE(ClassAggregation);

class AggregationLayerImpl : public torch::nn::Module {
 public:
  AggregationLayerImpl(int64_t dim, int64_t text_guidance_dim, int64_t appearance_guidance_dim,
                       int64_t heads, int64_t pooling, int64_t window, int64_t pad_len);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& appearance_guidance,
                        const torch::Tensor& text_guidance, const torch::Tensor& class_valid);

 private:
  SpatialAggregation swin_block_{nullptr};
  ClassAggregation attention_{nullptr};
};
TORCH_MODULE(AggregationLayer);

}  // namespace ovseg

#endif  // OVSEG_MODEL_FGASEG_COST_AGGREGATION_H_
