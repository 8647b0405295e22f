// Mask2Former's transformer decoder: learnable queries refined by layers of masked
// cross-attention (each query reads only where its previous mask prediction is >= 0.5),
// self-attention and an FFN, post-norm, visiting the pixel decoder's 1/32, 1/16 and 1/8
// maps round-robin; a shared head predicts class logits and mask logits (mask embedding
// MLP . mask features) before the first layer and after every layer. Module names are
// HuggingFace's Mask2FormerTransformerModule names (plus the class_predictor).
//
// Query features vs query embeddings, as the reference: `queries_features` is the
// queries' initial content, `queries_embedder` their positional embedding, added to
// queries and keys of self-attention and to the queries of cross-attention.
#ifndef OVSEG_MODEL_MASK2FORMER_MASKED_ATTENTION_DECODER_H_
#define OVSEG_MODEL_MASK2FORMER_MASKED_ATTENTION_DECODER_H_

#include <torch/torch.h>

#include <vector>

namespace ovseg {

struct MaskedAttentionDecoderConfig {
  int64_t in_channels = 256;  // pixel decoder feature_dim
  int64_t hidden_dim = 256;
  int64_t queries = 100;
  int64_t layers = 9;  // HF's decoder_layers is this + 1 (it counts the initial prediction)
  int64_t heads = 8;
  int64_t ffn_dim = 2048;
  int64_t mask_dim = 256;     // pixel decoder mask_dim
  int64_t num_classes = 133;  // logits per query: num_classes + 1 (the last is void)
  // Projections from in_channels to hidden_dim exist when the widths differ or when set.
  bool enforce_input_projection = false;
};

struct MaskPrediction {
  torch::Tensor class_logits;  // [B, Q, num_classes + 1]
  torch::Tensor mask_logits;   // [B, Q, H, W] at the mask features' resolution
};

// Blocked-position mask of masked attention from mask logits at a level's size: true where
// sigmoid < 0.5, with rows that would block everything cleared (the query then attends
// everywhere instead of nowhere). [B, Q, h*w] bool.
torch::Tensor MaskedAttentionBlocked(const torch::Tensor& mask_logits, int64_t height,
                                     int64_t width);
// The same rule on logits already at the level's size [B, Q, h, w].
torch::Tensor BlockedFromLevelLogits(const torch::Tensor& level_logits);

class MaskedAttentionLayerImpl : public torch::nn::Module {
 public:
  MaskedAttentionLayerImpl(int64_t dim, int64_t heads, int64_t ffn_dim);
  // queries [B, Q, D]; memory/memory_pos [B, S, D]; blocked [B, Q, S] bool.
  torch::Tensor forward(const torch::Tensor& queries, const torch::Tensor& query_pos,
                        const torch::Tensor& memory, const torch::Tensor& memory_pos,
                        const torch::Tensor& blocked);

 private:
  int64_t heads_;
  // Cross-attention in nn.MultiheadAttention's layout (one packed in-projection).
  torch::Tensor cross_in_proj_weight_, cross_in_proj_bias_;
  torch::nn::Linear cross_out_proj_{nullptr};
  torch::nn::Linear q_proj_{nullptr}, k_proj_{nullptr}, v_proj_{nullptr}, out_proj_{nullptr};
  torch::nn::LayerNorm cross_attn_layer_norm_{nullptr}, self_attn_layer_norm_{nullptr},
      final_layer_norm_{nullptr};
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(MaskedAttentionLayer);

class MaskedAttentionDecoderImpl : public torch::nn::Module {
 public:
  explicit MaskedAttentionDecoderImpl(const MaskedAttentionDecoderConfig& config);
  // multi_scale: [B, in_channels, h, w] at 1/32, 1/16, 1/8; mask_features [B, mask_dim, H, W].
  // With all_stages (training: deep supervision) returns layers + 1 predictions, the last
  // being the final one; without (inference) only the final prediction, the earlier
  // stages' attention masks computed at the levels' own resolution (equal up to float
  // rounding).
  std::vector<MaskPrediction> forward(const std::vector<torch::Tensor>& multi_scale,
                                      const torch::Tensor& mask_features, bool all_stages = true);
  const MaskedAttentionDecoderConfig& config() const { return config_; }

 private:
  MaskPrediction Predict(const torch::Tensor& queries, const torch::Tensor& mask_features,
                         bool with_classes);
  MaskedAttentionDecoderConfig config_;
  torch::nn::Embedding queries_embedder_{nullptr}, queries_features_{nullptr},
      level_embed_{nullptr};
  std::vector<torch::nn::Conv2d> input_projections_;  // empty when widths agree
  std::vector<MaskedAttentionLayer> layers_;
  torch::nn::LayerNorm layernorm_{nullptr};
  std::vector<torch::nn::Linear> mask_embedder_;
  // HF keeps this one at the model's top level (`class_predictor.*`); the key mapping
  // moves it here.
  torch::nn::Linear class_predictor_{nullptr};
};
TORCH_MODULE(MaskedAttentionDecoder);

}  // namespace ovseg

#endif  // OVSEG_MODEL_MASK2FORMER_MASKED_ATTENTION_DECODER_H_
