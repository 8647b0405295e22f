#include "model/mask2former/masked_attention_decoder.h"

#include <string>

#include "model/mask2former/position_encoding.h"
#include "model/runtime/attention_ops.h"

namespace ovseg {
namespace F = torch::nn::functional;
namespace {

constexpr int64_t kDecoderLevels = 3;

torch::nn::LayerNorm Norm(int64_t dim) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}));
}

}  // namespace

torch::Tensor MaskedAttentionBlocked(const torch::Tensor& mask_logits, int64_t height,
                                     int64_t width) {
  const torch::Tensor resized =
      F::interpolate(mask_logits, F::InterpolateFuncOptions()
                                      .size(std::vector<int64_t>{height, width})
                                      .mode(torch::kBilinear)
                                      .align_corners(false));
  return BlockedFromLevelLogits(resized);
}

torch::Tensor BlockedFromLevelLogits(const torch::Tensor& level_logits) {
  const torch::Tensor blocked = level_logits.sigmoid().flatten(2) < 0.5;
  return blocked.logical_and(blocked.logical_not().any(-1, /*keepdim=*/true));
}

MaskedAttentionLayerImpl::MaskedAttentionLayerImpl(int64_t dim, int64_t heads, int64_t ffn_dim)
    : heads_(heads) {
  TORCH_CHECK(dim % heads == 0, "mask2former decoder: width ", dim, " is not a multiple of ", heads,
              " heads");
  auto self_attn = register_module("self_attn", std::make_shared<torch::nn::Module>());
  q_proj_ = self_attn->register_module("q_proj", torch::nn::Linear(dim, dim));
  k_proj_ = self_attn->register_module("k_proj", torch::nn::Linear(dim, dim));
  v_proj_ = self_attn->register_module("v_proj", torch::nn::Linear(dim, dim));
  out_proj_ = self_attn->register_module("out_proj", torch::nn::Linear(dim, dim));
  self_attn_layer_norm_ = register_module("self_attn_layer_norm", Norm(dim));
  auto cross = register_module("cross_attn", std::make_shared<torch::nn::Module>());
  cross_in_proj_weight_ =
      cross->register_parameter("in_proj_weight", torch::randn({3 * dim, dim}) / std::sqrt(dim));
  cross_in_proj_bias_ = cross->register_parameter("in_proj_bias", torch::zeros({3 * dim}));
  cross_out_proj_ = cross->register_module("out_proj", torch::nn::Linear(dim, dim));
  cross_attn_layer_norm_ = register_module("cross_attn_layer_norm", Norm(dim));
  fc1_ = register_module("fc1", torch::nn::Linear(dim, ffn_dim));
  fc2_ = register_module("fc2", torch::nn::Linear(ffn_dim, dim));
  final_layer_norm_ = register_module("final_layer_norm", Norm(dim));
}

torch::Tensor MaskedAttentionLayerImpl::forward(const torch::Tensor& queries,
                                                const torch::Tensor& query_pos,
                                                const torch::Tensor& memory,
                                                const torch::Tensor& memory_pos,
                                                const torch::Tensor& blocked) {
  // Masked cross-attention: positions on queries and keys, not values.
  const std::vector<torch::Tensor> w = cross_in_proj_weight_.chunk(3, 0);
  const std::vector<torch::Tensor> b = cross_in_proj_bias_.chunk(3, 0);
  const torch::Tensor cq = SplitHeads(F::linear(queries + query_pos, w[0], b[0]), heads_);
  const torch::Tensor ck = SplitHeads(F::linear(memory + memory_pos, w[1], b[1]), heads_);
  const torch::Tensor cv = SplitHeads(F::linear(memory, w[2], b[2]), heads_);
  torch::Tensor h = cross_attn_layer_norm_(
      queries +
      cross_out_proj_(MergeHeads(MaskedAttention(cq, ck, cv, blocked.logical_not().unsqueeze(1)))));
  // Self-attention among the queries.
  const torch::Tensor with_pos = h + query_pos;
  const torch::Tensor self = MergeHeads(MaskedAttention(SplitHeads(q_proj_(with_pos), heads_),
                                                        SplitHeads(k_proj_(with_pos), heads_),
                                                        SplitHeads(v_proj_(h), heads_), {}));
  h = self_attn_layer_norm_(h + out_proj_(self));
  return final_layer_norm_(h + fc2_(torch::relu(fc1_(h))));
}

MaskedAttentionDecoderImpl::MaskedAttentionDecoderImpl(const MaskedAttentionDecoderConfig& config)
    : config_(config) {
  const int64_t d = config.hidden_dim;
  queries_embedder_ = register_module("queries_embedder", torch::nn::Embedding(config.queries, d));
  queries_features_ = register_module("queries_features", torch::nn::Embedding(config.queries, d));
  level_embed_ = register_module("level_embed", torch::nn::Embedding(kDecoderLevels, d));
  if (config.in_channels != d || config.enforce_input_projection) {
    auto projections = register_module("input_projections", std::make_shared<torch::nn::Module>());
    for (int64_t i = 0; i < kDecoderLevels; ++i) {
      input_projections_.push_back(projections->register_module(
          std::to_string(i),
          torch::nn::Conv2d(torch::nn::Conv2dOptions(config.in_channels, d, 1))));
    }
  }
  auto decoder = register_module("decoder", std::make_shared<torch::nn::Module>());
  auto layers = decoder->register_module("layers", std::make_shared<torch::nn::Module>());
  for (int64_t i = 0; i < config.layers; ++i) {
    layers_.push_back(layers->register_module(
        std::to_string(i), MaskedAttentionLayer(d, config.heads, config.ffn_dim)));
  }
  layernorm_ = decoder->register_module("layernorm", Norm(d));
  auto predictor =
      decoder->register_module("mask_predictor", std::make_shared<torch::nn::Module>());
  auto embedder =
      predictor->register_module("mask_embedder", std::make_shared<torch::nn::Module>());
  for (int64_t i = 0; i < 3; ++i) {  // HF: mask_embedder.{i}.0 is the Linear of block i.
    auto block =
        embedder->register_module(std::to_string(i), std::make_shared<torch::nn::Module>());
    mask_embedder_.push_back(
        block->register_module("0", torch::nn::Linear(d, i == 2 ? config.mask_dim : d)));
  }
  class_predictor_ =
      register_module("class_predictor", torch::nn::Linear(d, config.num_classes + 1));
}

MaskPrediction MaskedAttentionDecoderImpl::Predict(const torch::Tensor& queries,
                                                   const torch::Tensor& mask_features,
                                                   bool with_classes) {
  const torch::Tensor normed = layernorm_(queries);
  torch::Tensor embedding = normed;
  for (size_t i = 0; i < mask_embedder_.size(); ++i) {
    embedding = mask_embedder_[i](embedding);
    if (i + 1 < mask_embedder_.size()) embedding = torch::relu(embedding);
  }
  MaskPrediction p;
  p.mask_logits = torch::einsum("bqc,bchw->bqhw", {embedding, mask_features});
  if (with_classes) p.class_logits = class_predictor_(normed);
  return p;
}

std::vector<MaskPrediction> MaskedAttentionDecoderImpl::forward(
    const std::vector<torch::Tensor>& multi_scale, const torch::Tensor& mask_features,
    bool all_stages) {
  TORCH_CHECK(multi_scale.size() == kDecoderLevels, "mask2former decoder: expected 3 levels, got ",
              multi_scale.size());
  const int64_t b = mask_features.size(0), d = config_.hidden_dim;
  std::vector<torch::Tensor> memory, memory_pos;
  std::vector<std::pair<int64_t, int64_t>> sizes;
  for (int64_t i = 0; i < kDecoderLevels; ++i) {
    const torch::Tensor& f = multi_scale[i];
    sizes.emplace_back(f.size(2), f.size(3));
    const torch::Tensor projected = input_projections_.empty() ? f : input_projections_[i](f);
    memory.push_back(projected.flatten(2).transpose(1, 2) +
                     level_embed_->weight[i].view({1, 1, d}));
    memory_pos.push_back(SinePositionEncoding(b, f.size(2), f.size(3), d / 2, f.options())
                             .flatten(2)
                             .transpose(1, 2));
  }
  const torch::Tensor query_pos = queries_embedder_->weight.unsqueeze(0).expand({b, -1, -1});
  torch::Tensor queries = queries_features_->weight.unsqueeze(0).expand({b, -1, -1});
  std::vector<MaskPrediction> predictions;
  if (all_stages) {  // Training: every stage's full prediction, masks from the 1/4 logits.
    predictions.push_back(Predict(queries, mask_features, true));
    for (int64_t i = 0; i < config_.layers; ++i) {
      const int64_t level = i % kDecoderLevels;
      const torch::Tensor blocked = MaskedAttentionBlocked(predictions.back().mask_logits.detach(),
                                                           sizes[level].first, sizes[level].second);
      queries = layers_[i]->forward(queries, query_pos, memory[level], memory_pos[level], blocked);
      predictions.push_back(Predict(queries, mask_features, true));
    }
    return predictions;
  }
  // Inference: the earlier stages only steer the attention masks, at the levels' sizes.
  // Bilinear resizing is linear, so resizing the mask features and then taking the
  // product with the mask embeddings equals resizing the product, for 1/64 to 1/4 of the
  // work of a 1/4-resolution prediction per stage.
  std::vector<torch::Tensor> level_features;
  for (const auto& [h, w] : sizes) {
    level_features.push_back(F::interpolate(mask_features, F::InterpolateFuncOptions()
                                                               .size(std::vector<int64_t>{h, w})
                                                               .mode(torch::kBilinear)
                                                               .align_corners(false)));
  }
  for (int64_t i = 0; i < config_.layers; ++i) {
    const int64_t level = i % kDecoderLevels;
    const torch::Tensor at_level = Predict(queries, level_features[level], false).mask_logits;
    queries = layers_[i]->forward(queries, query_pos, memory[level], memory_pos[level],
                                  BlockedFromLevelLogits(at_level));
  }
  predictions.push_back(Predict(queries, mask_features, true));
  return predictions;
}

}  // namespace ovseg
