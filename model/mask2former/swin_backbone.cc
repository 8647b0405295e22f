#include "model/mask2former/swin_backbone.h"

#include <string>

#include "model/mask2former/window_partition.h"

namespace ovseg {
namespace F = torch::nn::functional;

SwinConfig SwinConfig::Tiny() { return {96, {2, 2, 6, 2}, {3, 6, 12, 24}, 7, 4, 4}; }
SwinConfig SwinConfig::Small() { return {96, {2, 2, 18, 2}, {3, 6, 12, 24}, 7, 4, 4}; }
SwinConfig SwinConfig::Base() { return {128, {2, 2, 18, 2}, {4, 8, 16, 32}, 12, 4, 4}; }
SwinConfig SwinConfig::Large() { return {192, {2, 2, 18, 2}, {6, 12, 24, 48}, 12, 4, 4}; }

SwinBlockImpl::SwinBlockImpl(int64_t dim, int64_t heads, int64_t window, int64_t shift,
                             int64_t mlp_hidden)
    : heads_(heads), window_(window), shift_(shift) {
  TORCH_CHECK(dim % heads == 0, "swin: width ", dim, " is not a multiple of ", heads, " heads");
  layernorm_before_ =
      register_module("layernorm_before", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  auto attention = register_module("attention", std::make_shared<torch::nn::Module>());
  auto self = attention->register_module("self", std::make_shared<torch::nn::Module>());
  relative_position_bias_table_ = self->register_parameter(
      "relative_position_bias_table", torch::zeros({(2 * window - 1) * (2 * window - 1), heads}));
  query_ = self->register_module("query", torch::nn::Linear(dim, dim));
  key_ = self->register_module("key", torch::nn::Linear(dim, dim));
  value_ = self->register_module("value", torch::nn::Linear(dim, dim));
  auto output = attention->register_module("output", std::make_shared<torch::nn::Module>());
  attention_output_ = output->register_module("dense", torch::nn::Linear(dim, dim));
  layernorm_after_ =
      register_module("layernorm_after", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  auto intermediate = register_module("intermediate", std::make_shared<torch::nn::Module>());
  intermediate_ = intermediate->register_module("dense", torch::nn::Linear(dim, mlp_hidden));
  auto out = register_module("output", std::make_shared<torch::nn::Module>());
  output_ = out->register_module("dense", torch::nn::Linear(mlp_hidden, dim));
  // Index of the bias-table row for each (query, key) pair of a window: the pair's offset
  // (dy, dx), each shifted to be non-negative, in row-major order.
  const torch::Tensor y = torch::arange(window).repeat_interleave(window);
  const torch::Tensor x = torch::arange(window).repeat(window);
  relative_position_index_ = ((y.view({-1, 1}) - y.view({1, -1}) + window - 1) * (2 * window - 1) +
                              (x.view({-1, 1}) - x.view({1, -1}) + window - 1))
                                 .reshape(-1);
}

torch::Tensor SwinBlockImpl::WindowAttention(const torch::Tensor& windows,
                                             const torch::Tensor& mask) {
  const int64_t n = windows.size(0), t = windows.size(1), c = windows.size(2), d = c / heads_;
  auto split = [&](const torch::Tensor& z) { return z.view({n, t, heads_, d}).transpose(1, 2); };
  const torch::Tensor q = split(query_(windows)), k = split(key_(windows)),
                      v = split(value_(windows));
  if (relative_position_index_.device() != windows.device()) {
    relative_position_index_ = relative_position_index_.to(windows.device());
  }
  const torch::Tensor bias = relative_position_bias_table_.index_select(0, relative_position_index_)
                                 .view({t, t, heads_})
                                 .permute({2, 0, 1});
  torch::Tensor scores = torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(double(d)) + bias;
  if (mask.defined()) {  // Windows are batch-major, so the mask repeats per image.
    const int64_t nw = mask.size(0);
    scores = (scores.view({n / nw, nw, heads_, t, t}) + mask.view({1, nw, 1, t, t}))
                 .view({n, heads_, t, t});
  }
  const torch::Tensor context = torch::matmul(torch::softmax(scores, -1), v);
  return attention_output_(context.transpose(1, 2).reshape({n, t, c}));
}

torch::Tensor SwinBlockImpl::forward(const torch::Tensor& x, int64_t height, int64_t width) {
  const int64_t b = x.size(0), c = x.size(2);
  torch::Tensor h = layernorm_before_(x).view({b, height, width, c});
  // Pad after the norm (zeros, as the reference) to whole windows.
  const int64_t pad_h = (window_ - height % window_) % window_;
  const int64_t pad_w = (window_ - width % window_) % window_;
  if (pad_h > 0 || pad_w > 0) h = F::pad(h, F::PadFuncOptions({0, 0, 0, pad_w, 0, pad_h}));
  const int64_t hp = height + pad_h, wp = width + pad_w;
  torch::Tensor mask;
  if (shift_ > 0) {
    h = torch::roll(h, {-shift_, -shift_}, {1, 2});
    mask = ShiftedWindowMask(hp, wp, window_, shift_, h.options());
  }
  h = MergeWindows(WindowAttention(PartitionWindows(h, window_), mask), window_, hp, wp);
  if (shift_ > 0) h = torch::roll(h, {shift_, shift_}, {1, 2});
  if (pad_h > 0 || pad_w > 0) h = h.narrow(1, 0, height).narrow(2, 0, width);
  const torch::Tensor y = x + h.reshape({b, height * width, c});
  return y + output_(F::gelu(intermediate_(layernorm_after_(y))));
}

SwinBackboneImpl::SwinBackboneImpl(const SwinConfig& config) : config_(config) {
  TORCH_CHECK(config.depths.size() == 4 && config.heads.size() == 4,
              "swin: expected 4 stages, got ", config.depths.size());
  auto embeddings = register_module("embeddings", std::make_shared<torch::nn::Module>());
  auto patch =
      embeddings->register_module("patch_embeddings", std::make_shared<torch::nn::Module>());
  patch_projection_ = patch->register_module(
      "projection",
      torch::nn::Conv2d(
          torch::nn::Conv2dOptions(3, config.embed_dim, config.patch).stride(config.patch)));
  patch_norm_ = embeddings->register_module(
      "norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.embed_dim})));
  auto encoder = register_module("encoder", std::make_shared<torch::nn::Module>());
  auto layers = encoder->register_module("layers", std::make_shared<torch::nn::Module>());
  auto norms = register_module("hidden_states_norms", std::make_shared<torch::nn::Module>());
  for (size_t s = 0; s < 4; ++s) {
    const int64_t dim = config.embed_dim << s;
    auto stage = layers->register_module(std::to_string(s), std::make_shared<torch::nn::Module>());
    auto blocks = stage->register_module("blocks", std::make_shared<torch::nn::Module>());
    blocks_.emplace_back();
    for (int64_t i = 0; i < config.depths[s]; ++i) {
      blocks_.back().push_back(blocks->register_module(
          std::to_string(i),
          SwinBlock(dim, config.heads[s], config.window, i % 2 == 0 ? 0 : config.window / 2,
                    config.mlp_hidden_ratio * dim)));
    }
    if (s < 3) {
      auto merge = stage->register_module("downsample", std::make_shared<torch::nn::Module>());
      merge_reductions_.push_back(merge->register_module(
          "reduction", torch::nn::Linear(torch::nn::LinearOptions(4 * dim, 2 * dim).bias(false))));
      merge_norms_.push_back(merge->register_module(
          "norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({4 * dim}))));
    }
    stage_norms_.push_back(norms->register_module(
        "stage" + std::to_string(s + 1), torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}))));
  }
}

std::vector<int64_t> SwinBackboneImpl::channels() const {
  return {config_.embed_dim, config_.embed_dim * 2, config_.embed_dim * 4, config_.embed_dim * 8};
}

std::vector<torch::Tensor> SwinBackboneImpl::Features(const torch::Tensor& images) {
  const int64_t p = config_.patch;
  torch::Tensor x = images;
  const int64_t pad_h = (p - x.size(2) % p) % p, pad_w = (p - x.size(3) % p) % p;
  if (pad_h > 0 || pad_w > 0) x = F::pad(x, F::PadFuncOptions({0, pad_w, 0, pad_h}));
  x = patch_projection_(x);
  int64_t height = x.size(2), width = x.size(3);
  const int64_t b = x.size(0);
  x = patch_norm_(x.flatten(2).transpose(1, 2));
  std::vector<torch::Tensor> features;
  for (size_t s = 0; s < 4; ++s) {
    for (SwinBlock& block : blocks_[s]) x = block->forward(x, height, width);
    const int64_t c = x.size(2);
    features.push_back(
        stage_norms_[s](x).view({b, height, width, c}).permute({0, 3, 1, 2}).contiguous());
    if (s == 3) break;
    // Patch merging: each 2x2 neighbourhood (odd sizes padded) concatenated in the order
    // (0,0), (1,0), (0,1), (1,1) as (row, column), normalised, projected to 2C.
    torch::Tensor m = x.view({b, height, width, c});
    if (height % 2 == 1 || width % 2 == 1) {
      m = F::pad(m, F::PadFuncOptions({0, 0, 0, width % 2, 0, height % 2}));
    }
    using torch::indexing::None;
    using torch::indexing::Slice;
    m = torch::cat({m.index({Slice(), Slice(0, None, 2), Slice(0, None, 2)}),
                    m.index({Slice(), Slice(1, None, 2), Slice(0, None, 2)}),
                    m.index({Slice(), Slice(0, None, 2), Slice(1, None, 2)}),
                    m.index({Slice(), Slice(1, None, 2), Slice(1, None, 2)})},
                   -1);
    height = (height + 1) / 2;
    width = (width + 1) / 2;
    x = merge_reductions_[s](merge_norms_[s](m.view({b, height * width, 4 * c})));
  }
  return features;
}

}  // namespace ovseg
