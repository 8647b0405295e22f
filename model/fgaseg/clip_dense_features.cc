#include "model/fgaseg/clip_dense_features.h"

namespace ovseg {
namespace F = torch::nn::functional;
namespace {

// [B, 1 + gh*gw, C] -> [B, C, gh, gw] (class token dropped)
torch::Tensor TokensToMap(const torch::Tensor& tokens, int64_t gh, int64_t gw) {
  return tokens.narrow(1, 1, gh * gw).transpose(1, 2).reshape({tokens.size(0), -1, gh, gw});
}

}  // namespace

std::vector<int64_t> DenseFeatureTokenLayers(ClipVision& visual,
                                             const std::vector<int64_t>& guidance_layers) {
  const int64_t n = visual->transformer->size();
  for (int64_t layer : guidance_layers) {
    TORCH_CHECK(layer >= 0 && layer < n - 1, "clip dense features: guidance block ", layer,
                " outside 0..", n - 2);
  }
  std::vector<int64_t> layers = guidance_layers;
  layers.push_back(n - 2);
  return layers;
}

ClipDenseFeatures DenseFeaturesFromTokens(ClipVision& visual,
                                          const std::vector<torch::Tensor>& tokens, int64_t gh,
                                          int64_t gw) {
  TORCH_CHECK(!tokens.empty(), "clip dense features: no tokens");
  ClipDenseFeatures out;
  for (size_t k = 0; k + 1 < tokens.size(); ++k)
    out.guidance.push_back(TokensToMap(tokens[k], gh, gw));
  const torch::Tensor& x = tokens.back();
  ClipResidualBlock last = visual->transformer->block(visual->transformer->size() - 1);
  const int64_t width = x.size(2);
  const torch::Tensor attn_input = last->ln_1(x);
  // Only the value third of the packed projection is needed.
  const torch::Tensor v =
      F::linear(attn_input, last->attn->in_proj_weight.narrow(0, 2 * width, width),
                last->attn->in_proj_bias.narrow(0, 2 * width, width));
  torch::Tensor dense = last->attn->out_proj(v) + x.narrow(1, 0, 1);
  dense = dense + last->mlp(last->ln_2(dense));
  dense = torch::matmul(visual->ln_post(dense), visual->proj);
  out.dense = TokensToMap(dense, gh, gw);
  return out;
}

ClipDenseFeatures ComputeClipDenseFeatures(ClipVision& visual, const torch::Tensor& images,
                                           const std::vector<int64_t>& guidance_layers) {
  const std::vector<int64_t> layers = DenseFeatureTokenLayers(visual, guidance_layers);
  int64_t gh = 0, gw = 0;
  torch::Tensor x = visual->Embed(images, &gh, &gw);
  std::vector<torch::Tensor> tokens(layers.size());
  for (int64_t i = 0; i <= layers.back(); ++i) {
    x = visual->transformer->block(i)->forward(x);
    for (size_t k = 0; k < layers.size(); ++k) {
      if (layers[k] == i) tokens[k] = x;
    }
  }
  return DenseFeaturesFromTokens(visual, tokens, gh, gw);
}

}  // namespace ovseg
