#include "model/train/fiser_predictor.h"

#include <cmath>
#include <limits>

#include "model/runtime/autocast_scope.h"

namespace ovseg {
namespace F = torch::nn::functional;

FiserPredictorImpl::FiserPredictorImpl(const FiserConfig& c) : config_(c) {
  mask_token = register_parameter("mask_token", torch::randn({c.width}) * 0.02);
  text_type = register_parameter("text_type", torch::randn({c.width}) * 0.02);
  image_type = register_parameter("image_type", torch::randn({c.width}) * 0.02);
  // CLIP's initial temperature, 1 / 0.07, learnt in log space.
  logit_scale = register_parameter("logit_scale", torch::full({}, std::log(1.0 / 0.07)));
  text_in = register_module("text_in", torch::nn::Linear(c.embed_dim, c.width));
  image_in = register_module("image_in", torch::nn::Linear(c.image_width, c.width));
  out = register_module("out", torch::nn::Linear(c.width, c.embed_dim));
  torch::nn::TransformerEncoderLayerOptions layer(c.width, c.heads);
  layer.dim_feedforward(4 * c.width).dropout(0.0).activation(torch::kGELU);
  encoder = register_module(
      "encoder", torch::nn::TransformerEncoder(torch::nn::TransformerEncoderOptions(layer, c.layers)
                                                   .norm(torch::nn::AnyModule(torch::nn::LayerNorm(
                                                       torch::nn::LayerNormOptions({c.width}))))));
}

FiserOutputs FiserPredictorImpl::forward(const FiserInputs& in) {
  const int64_t b = in.class_embeddings.size(0), k = in.class_embeddings.size(1);
  const int64_t n = in.patches.size(1);
  const auto dtype = text_in->weight.scalar_type();
  // Small, and LibTorch's C++ attention cannot mask bf16 scores: its own precision always.
  AutocastSuspend own_precision(text_in->weight.device());
  const torch::Tensor valid = in.class_valid.to(torch::kBool);
  // O: the labels, the masked one replaced by [M] (same token count as unmasked).
  torch::Tensor text = text_in(in.class_embeddings.to(dtype));
  const torch::Tensor is_masked =
      F::one_hot(in.masked.to(torch::kLong), k).to(torch::kBool).unsqueeze(-1);  // [B, K, 1]
  text = torch::where(is_masked, mask_token.view({1, 1, -1}).expand_as(text), text) + text_type;
  const torch::Tensor patches = image_in(in.patches.to(dtype)) + image_type;
  const torch::Tensor tokens = torch::cat({text, patches}, 1);  // [B, K + n, D]
  // Padded labels are keys nobody attends to.
  const torch::Tensor ignored = torch::cat({~valid, torch::zeros({b, n}, valid.options())}, 1);
  // torch::nn::TransformerEncoder is sequence-first.
  const torch::Tensor hidden =
      encoder->forward(tokens.transpose(0, 1), /*src_mask=*/{}, /*src_key_padding_mask=*/ignored)
          .transpose(0, 1);
  const torch::Tensor at_mask =
      hidden.gather(1, in.masked.to(torch::kLong).view({b, 1, 1}).expand({b, 1, hidden.size(2)}));
  const torch::Tensor z =
      F::normalize(out(at_mask.squeeze(1)).to(torch::kFloat32), F::NormalizeFuncOptions().dim(-1));
  const torch::Tensor e =
      F::normalize(in.class_embeddings.to(torch::kFloat32), F::NormalizeFuncOptions().dim(-1));
  const torch::Tensor scale = logit_scale.to(torch::kFloat32).clamp_max(std::log(100.0)).exp();
  FiserOutputs o;
  o.logits = (torch::einsum("bd,bkd->bk", {z, e}) * scale)
                 .masked_fill(~valid, -std::numeric_limits<float>::infinity());
  o.loss = F::cross_entropy(o.logits, in.masked.to(torch::kLong));
  return o;
}

torch::Tensor SampleMaskedLabels(const torch::Tensor& class_valid) {
  // Uniform over each row's valid labels: the argmax of random keys on them.
  const torch::Tensor keys =
      torch::rand(class_valid.sizes(), torch::TensorOptions().device(class_valid.device()));
  return keys.masked_fill(~class_valid.to(torch::kBool), -1.0).argmax(1);
}

}  // namespace ovseg
