#include "model/fgaseg/cost_aggregation.h"

#include "model/mask2former/window_partition.h"

namespace ovseg {
namespace F = torch::nn::functional;
namespace {

torch::nn::LayerNorm Norm(int64_t dim) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}));
}

}  // namespace

GuidedWindowBlockImpl::GuidedWindowBlockImpl(int64_t dim, int64_t guidance_dim, int64_t heads,
                                             int64_t window, bool shifted)
    : dim_(dim), heads_(heads), window_(window), shifted_(shifted) {
  norm1_ = register_module("norm1", Norm(dim));
  auto attn = register_module("attn", std::make_shared<torch::nn::Module>());
  q_ = attn->register_module("q", torch::nn::Linear(dim + guidance_dim, dim));
  k_ = attn->register_module("k", torch::nn::Linear(dim + guidance_dim, dim));
  v_ = attn->register_module("v", torch::nn::Linear(dim, dim));
  proj_ = attn->register_module("proj", torch::nn::Linear(dim, dim));
  norm2_ = register_module("norm2", Norm(dim));
  auto mlp = register_module("mlp", std::make_shared<torch::nn::Module>());
  fc1_ = mlp->register_module("fc1", torch::nn::Linear(dim, 4 * dim));
  fc2_ = mlp->register_module("fc2", torch::nn::Linear(4 * dim, dim));
}

torch::Tensor GuidedWindowBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& guidance,
                                             int64_t height, int64_t width) {
  const int64_t n = x.size(0), c = dim_;
  // As the reference: a map no larger than the window is one unshifted window.
  int64_t window = window_, shift = shifted_ ? window_ / 2 : 0;
  if (std::min(height, width) <= window_) {
    window = std::min(height, width);
    shift = 0;
  }
  torch::Tensor h = norm1_(x);
  if (guidance.defined()) h = torch::cat({h, guidance}, -1);
  h = h.view({n, height, width, -1});
  // Maps that are not whole windows are padded with zeros (the reference requires whole
  // windows; at its 24x24 with window 12 nothing changes).
  const int64_t pad_h = (window - height % window) % window;
  const int64_t pad_w = (window - width % window) % window;
  if (pad_h > 0 || pad_w > 0) h = F::pad(h, F::PadFuncOptions({0, 0, 0, pad_w, 0, pad_h}));
  const int64_t hp = height + pad_h, wp = width + pad_w;
  torch::Tensor mask;
  if (shift > 0) {
    h = torch::roll(h, {-shift, -shift}, {1, 2});
    mask = ShiftedWindowMask(hp, wp, window, shift, h.options());
  }
  const torch::Tensor windows = PartitionWindows(h, window);  // [N * nW, w*w, C + G]
  const int64_t nw = windows.size(0), t = windows.size(1), d = c / heads_;
  auto split = [&](const torch::Tensor& z) { return z.view({nw, t, heads_, d}).transpose(1, 2); };
  const torch::Tensor q = split(q_(windows)) * (1.0 / std::sqrt(double(d)));
  const torch::Tensor k = split(k_(windows));
  const torch::Tensor v = split(v_(windows.narrow(-1, 0, c)));
  torch::Tensor scores = torch::matmul(q, k.transpose(-1, -2));
  if (mask.defined()) {
    const int64_t per_image = mask.size(0);
    scores = (scores.view({nw / per_image, per_image, heads_, t, t}) +
              mask.view({1, per_image, 1, t, t}))
                 .view({nw, heads_, t, t});
  }
  torch::Tensor out =
      proj_(torch::matmul(torch::softmax(scores, -1), v).transpose(1, 2).reshape({nw, t, c}));
  out = MergeWindows(out, window, hp, wp);
  if (shift > 0) out = torch::roll(out, {shift, shift}, {1, 2});
  if (pad_h > 0 || pad_w > 0) out = out.narrow(1, 0, height).narrow(2, 0, width);
  const torch::Tensor y = x + out.reshape({n, height * width, c});
  return y + fc2_(F::gelu(fc1_(norm2_(y))));
}

SpatialAggregationImpl::SpatialAggregationImpl(int64_t dim, int64_t guidance_dim, int64_t heads,
                                               int64_t window) {
  block_1_ = register_module("block_1", GuidedWindowBlock(dim, guidance_dim, heads, window, false));
  block_2_ = register_module("block_2", GuidedWindowBlock(dim, guidance_dim, heads, window, true));
  if (guidance_dim > 0) guidance_norm_ = register_module("guidance_norm", Norm(guidance_dim));
}

torch::Tensor SpatialAggregationImpl::forward(const torch::Tensor& x,
                                              const torch::Tensor& guidance) {
  const int64_t b = x.size(0), c = x.size(1), t = x.size(2), h = x.size(3), w = x.size(4);
  torch::Tensor tokens = x.permute({0, 2, 3, 4, 1}).reshape({b * t, h * w, c});
  torch::Tensor g;
  if (guidance.defined() && guidance_norm_) {
    g = guidance_norm_(guidance.flatten(2).transpose(1, 2))  // [B, HW, G]
            .unsqueeze(1)
            .expand({b, t, h * w, guidance.size(1)})
            .reshape({b * t, h * w, guidance.size(1)});
  }
  tokens = block_1_->forward(tokens, g, h, w);
  tokens = block_2_->forward(tokens, g, h, w);
  return tokens.view({b, t, h, w, c}).permute({0, 4, 1, 2, 3});
}

torch::Tensor LinearAttention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, const torch::Tensor& key_valid) {
  constexpr double kEps = 1e-6;
  const torch::Tensor qf = F::elu(q) + 1;
  torch::Tensor kf = F::elu(k) + 1;
  const double length = static_cast<double>(v.size(1));
  torch::Tensor values = v / length;  // as the reference (fp16 overflow guard)
  if (key_valid.defined()) {
    const torch::Tensor keep = key_valid.view({key_valid.size(0), key_valid.size(1), 1, 1});
    kf = kf * keep;
    values = values * keep;
  }
  const torch::Tensor kv = torch::einsum("nshd,nshv->nhdv", {kf, values});
  const torch::Tensor z = 1.0 / (torch::einsum("nlhd,nhd->nlh", {qf, kf.sum(1)}) + kEps);
  return torch::einsum("nlhd,nhdv,nlh->nlhv", {qf, kv, z}) * length;
}

ClassAggregationImpl::ClassAggregationImpl(int64_t dim, int64_t guidance_dim, int64_t heads,
                                           int64_t pooling, int64_t pad_len)
    : heads_(heads), pooling_(pooling), pad_len_(pad_len) {
  if (pad_len > 0) {
    padding_tokens_ = register_parameter("padding_tokens", torch::zeros({1, 1, dim}));
    if (guidance_dim > 0) {
      padding_guidance_ =
          register_parameter("padding_guidance", torch::zeros({1, 1, guidance_dim}));
    }
  }
  auto attention = register_module("attention", std::make_shared<torch::nn::Module>());
  q_ = attention->register_module("q", torch::nn::Linear(dim + guidance_dim, dim));
  k_ = attention->register_module("k", torch::nn::Linear(dim + guidance_dim, dim));
  v_ = attention->register_module("v", torch::nn::Linear(dim, dim));
  mlp_ = register_module("MLP",
                         torch::nn::Sequential(torch::nn::Linear(dim, 4 * dim), torch::nn::ReLU(),
                                               torch::nn::Linear(4 * dim, dim)));
  norm1_ = register_module("norm1", Norm(dim));
  norm2_ = register_module("norm2", Norm(dim));
}

torch::Tensor ClassAggregationImpl::forward(const torch::Tensor& x, const torch::Tensor& guidance,
                                            const torch::Tensor& class_valid) {
  const int64_t b = x.size(0), c = x.size(1), t = x.size(2), h = x.size(3), w = x.size(4);
  torch::Tensor pooled = x.transpose(1, 2).reshape({b * t, c, h, w});
  if (pooling_ > 1) pooled = F::avg_pool2d(pooled, F::AvgPool2dFuncOptions(pooling_));
  const int64_t hp = pooled.size(2), wp = pooled.size(3);
  // [B, T, HpWp, C] and [B, T, G]
  torch::Tensor tokens = pooled.view({b, t, c, hp * wp}).transpose(2, 3);
  torch::Tensor g = guidance;
  torch::Tensor key_valid;
  const torch::Tensor valid = class_valid.view({b, t, 1, 1});
  if (padding_tokens_.defined()) {
    TORCH_CHECK(t <= pad_len_, "class aggregation: ", t, " classes exceed pad_len ", pad_len_);
    // Batch-padding classes become padding tokens, then every sequence is pad_len long.
    tokens = torch::where(valid, tokens, padding_tokens_.view({1, 1, 1, c}));
    if (t < pad_len_) {
      tokens = torch::cat(
          {tokens, padding_tokens_.view({1, 1, 1, c}).expand({b, pad_len_ - t, hp * wp, c})}, 1);
    }
    if (g.defined() && padding_guidance_.defined()) {
      const int64_t gd = g.size(2);
      g = torch::where(class_valid.unsqueeze(-1), g, padding_guidance_.view({1, 1, gd}));
      if (t < pad_len_) {
        g = torch::cat({g, padding_guidance_.expand({b, pad_len_ - t, gd})}, 1);
      }
    }
  } else {
    key_valid = class_valid.unsqueeze(1).expand({b, hp * wp, t}).reshape({b * hp * wp, t});
  }
  const int64_t seq = tokens.size(1);
  torch::Tensor seqs = tokens.permute({0, 2, 1, 3}).reshape({b * hp * wp, seq, c});
  torch::Tensor normed = norm1_(seqs), qk_input = normed;
  if (g.defined()) {
    qk_input = torch::cat(
        {normed,
         g.unsqueeze(1).expand({b, hp * wp, seq, g.size(2)}).reshape({b * hp * wp, seq, -1})},
        -1);
  }
  auto split = [&](const torch::Tensor& z) { return z.view({z.size(0), z.size(1), heads_, -1}); };
  const torch::Tensor attended =
      LinearAttention(split(q_(qk_input)), split(k_(qk_input)), split(v_(normed)), key_valid);
  seqs = seqs + attended.reshape({b * hp * wp, seq, c});
  seqs = seqs + mlp_->forward(norm2_(seqs));
  // Back to maps, upsampled to the input's size (align_corners=true as the reference).
  torch::Tensor maps = seqs.view({b, hp, wp, seq, c}).permute({0, 3, 4, 1, 2}).narrow(1, 0, t);
  maps = F::interpolate(maps.reshape({b * t, c, hp, wp}), F::InterpolateFuncOptions()
                                                              .size(std::vector<int64_t>{h, w})
                                                              .mode(torch::kBilinear)
                                                              .align_corners(true));
  return x + maps.view({b, t, c, h, w}).transpose(1, 2);
}

AggregationLayerImpl::AggregationLayerImpl(int64_t dim, int64_t text_guidance_dim,
                                           int64_t appearance_guidance_dim, int64_t heads,
                                           int64_t pooling, int64_t window, int64_t pad_len) {
  swin_block_ = register_module("swin_block",
                                SpatialAggregation(dim, appearance_guidance_dim, heads, window));
  attention_ = register_module("attention",
                               ClassAggregation(dim, text_guidance_dim, heads, pooling, pad_len));
}

torch::Tensor AggregationLayerImpl::forward(const torch::Tensor& x,
                                            const torch::Tensor& appearance_guidance,
                                            const torch::Tensor& text_guidance,
                                            const torch::Tensor& class_valid) {
  return attention_->forward(swin_block_->forward(x, appearance_guidance), text_guidance,
                             class_valid);
}

}  // namespace ovseg
