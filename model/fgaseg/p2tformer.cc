#include "model/fgaseg/p2tformer.h"

#include <string>

#include "model/mask2former/position_encoding.h"

namespace ovseg {
namespace F = torch::nn::functional;

P2TCrossAttentionImpl::P2TCrossAttentionImpl(int64_t dim, int64_t heads) : heads_(heads) {
  TORCH_CHECK(dim % heads == 0, "p2tformer: width ", dim, " is not a multiple of ", heads,
              " heads");
  auto attn = register_module("multihead_attn", std::make_shared<torch::nn::Module>());
  in_proj_weight_ =
      attn->register_parameter("in_proj_weight", torch::randn({3 * dim, dim}) / std::sqrt(dim));
  in_proj_bias_ = attn->register_parameter("in_proj_bias", torch::zeros({3 * dim}));
  out_proj_ = attn->register_module("out_proj", torch::nn::Linear(dim, dim));
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  mlp_ = register_module("MLP", torch::nn::Linear(dim, dim));
}

torch::Tensor P2TCrossAttentionImpl::forward(const torch::Tensor& text, const torch::Tensor& image,
                                             const torch::Tensor& pos) {
  const std::vector<torch::Tensor> w = in_proj_weight_.chunk(3, 0);
  const std::vector<torch::Tensor> b = in_proj_bias_.chunk(3, 0);
  auto heads = [&](const torch::Tensor& x) {
    return x.view({x.size(0), x.size(1), heads_, -1}).transpose(1, 2);
  };
  const torch::Tensor q = heads(F::linear(text, w[0], b[0]));
  const torch::Tensor k = heads(F::linear(image + pos, w[1], b[1]));
  const torch::Tensor v = heads(F::linear(image, w[2], b[2]));
  const torch::Tensor scores =
      torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(double(q.size(-1)));
  const torch::Tensor attended = torch::matmul(torch::softmax(scores, -1), v)
                                     .transpose(1, 2)
                                     .reshape({text.size(0), text.size(1), -1});
  return norm_(text + mlp_(out_proj_(attended)));
}

P2TformerImpl::P2TformerImpl(int64_t dim, int64_t heads, int64_t layers) {
  auto list = register_module("cross_atten_text", std::make_shared<torch::nn::Module>());
  for (int64_t i = 0; i < layers; ++i) {
    layers_.push_back(list->register_module(std::to_string(i), P2TCrossAttention(dim, heads)));
  }
  gamma_ = register_parameter("gamma_text", torch::full({dim}, 0.1));
}

torch::Tensor P2TformerImpl::forward(const torch::Tensor& image, const torch::Tensor& text) {
  const int64_t b = image.size(0), c = image.size(1);
  const torch::Tensor pos =
      SinePositionEncoding(b, image.size(2), image.size(3), c / 2, image.options())
          .flatten(2)
          .transpose(1, 2);
  const torch::Tensor tokens = image.flatten(2).transpose(1, 2);
  torch::Tensor out = text;
  for (P2TCrossAttention& layer : layers_) out = layer->forward(out, tokens, pos);
  return text + gamma_ * out;
}

}  // namespace ovseg
