#include "model/fgaseg/fgaseg_head.h"

#include <string>

namespace ovseg {
namespace F = torch::nn::functional;
namespace {

torch::nn::Conv2d Conv(int64_t in, int64_t out, int64_t kernel) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).padding(kernel / 2));
}

// [B, T, ...] rows of the (image, class) pairs that `keep` [B, T] marks, image-major.
torch::Tensor KeptRows(const torch::Tensor& keep) { return keep.flatten().nonzero().squeeze(1); }

// Classes that are among the top k of some pixel of `scores` [B, T, h, w], valid only.
torch::Tensor TopKClasses(const torch::Tensor& scores, const torch::Tensor& valid, int64_t k) {
  const int64_t t = scores.size(1);
  const torch::Tensor masked = scores.to(torch::kFloat32)
                                   .masked_fill(valid.logical_not().view({valid.size(0), t, 1, 1}),
                                                -std::numeric_limits<float>::infinity());
  const torch::Tensor index = std::get<1>(masked.topk(std::min(k, t), 1)).flatten(1);
  torch::Tensor kept = torch::zeros({scores.size(0), t}, valid.options());
  kept.scatter_(1, index, true);
  return kept.logical_and(valid);
}

}  // namespace

FgaSegHeadImpl::FgaSegHeadImpl(const FgaSegConfig& config) : config_(config) {
  const FgaSegConfig& c = config;
  TORCH_CHECK(c.guidance_layers.size() == 2 && c.decoder_dims.size() == 2 &&
                  c.decoder_guidance_dims.size() == 2 && c.decoder_guidance_proj_dims.size() == 2,
              "fgaseg: two guidance layers and two decoder stages expected");
  TORCH_CHECK(c.decoder_dims[0] == c.hidden_dim / 2,
              "fgaseg: decoder_dims[0] must be hidden_dim / 2 (the second fusion's width)");
  p2t_ = register_module("DCDT", P2Tformer(c.embed_dim, c.p2t_heads, c.p2t_layers));
  t2p_ = register_module("proj", T2PAlignment(c.embed_dim, c.embed_dim / 2, c.kernel_size));
  upsample1_ = register_module(
      "upsample1", torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(
                                                  c.clip_width, c.decoder_guidance_dims[0], 2)
                                                  .stride(2)));
  upsample2_ = register_module(
      "upsample2", torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(
                                                  c.clip_width, c.decoder_guidance_dims[1], 4)
                                                  .stride(4)));
  auto t = register_module("transformer", std::make_shared<torch::nn::Module>());
  auto layers = t->register_module("layers", std::make_shared<torch::nn::Module>());
  for (int64_t i = 0; i < c.layers; ++i) {
    layers_.push_back(layers->register_module(
        std::to_string(i),
        AggregationLayer(c.hidden_dim, c.text_guidance_proj_dim, c.appearance_guidance_proj_dim,
                         c.heads, c.pooling, c.window, c.pad_len)));
  }
  conv1_ = t->register_module("conv1", Conv(1, c.hidden_dim, 7));
  conv2_ = t->register_module("conv2", Conv(1, c.hidden_dim, 7));
  conv_cat_ = t->register_module("conv_cat", torch::nn::Linear(2 * c.hidden_dim, c.hidden_dim));
  conv_cat_decoder_1_ =
      t->register_module("conv_cat_decoder_1", torch::nn::Linear(2 * c.hidden_dim, c.hidden_dim));
  conv_cat_decoder_2_ =
      t->register_module("conv_cat_decoder_2", torch::nn::Linear(c.hidden_dim, c.hidden_dim / 2));
  // corr_local_decoder_projection = [ConvTranspose2d, DoubleConv, ReLU]
  auto local =
      t->register_module("corr_local_decoder_projection", std::make_shared<torch::nn::Module>());
  local_up_ = local->register_module(
      "0", torch::nn::ConvTranspose2d(
               torch::nn::ConvTranspose2dOptions(c.hidden_dim, c.hidden_dim / 2, 2).stride(2)));
  auto local_double = local->register_module("1", std::make_shared<torch::nn::Module>());
  local_conv_ =
      local_double->register_module("double_conv", DoubleConv(c.hidden_dim / 2, c.hidden_dim / 2));
  auto guidance = t->register_module("guidance_projection", std::make_shared<torch::nn::Module>());
  guidance_projection_ =
      guidance->register_module("0", Conv(c.embed_dim, c.appearance_guidance_proj_dim, 3));
  auto text = t->register_module("text_guidance_projection", std::make_shared<torch::nn::Module>());
  text_guidance_projection_ =
      text->register_module("0", torch::nn::Linear(c.embed_dim, c.text_guidance_proj_dim));
  auto decoder_guidance =
      t->register_module("decoder_guidance_projection", std::make_shared<torch::nn::Module>());
  for (int i = 0; i < 2; ++i) {
    auto step =
        decoder_guidance->register_module(std::to_string(i), std::make_shared<torch::nn::Module>());
    decoder_guidance_projection_.push_back(step->register_module(
        "0", Conv(c.decoder_guidance_dims[i], c.decoder_guidance_proj_dims[i], 3)));
  }
  decoder1_ = t->register_module(
      "decoder1", UpBlock(c.hidden_dim, c.decoder_dims[0], c.decoder_guidance_proj_dims[0]));
  decoder2_ = t->register_module(
      "decoder2", UpBlock(c.decoder_dims[0], c.decoder_dims[1], c.decoder_guidance_proj_dims[1]));
  head_ = t->register_module("head", Conv(c.decoder_dims[1], 1, 3));
  head_aux0_ = t->register_module("head_auxi_0", Conv(c.hidden_dim, 1, 3));
  head_aux1_ = t->register_module("head_auxi_1", Conv(c.hidden_dim, 1, 3));
  head_aux2_ = t->register_module("head_auxi_2", Conv(c.hidden_dim / 2, 1, 3));
  local_align_ =
      t->register_module("Local_align", LocalAlignment(c.embed_dim, c.embed_dim, c.kernel_size));
}

std::vector<torch::Tensor> FgaSegHeadImpl::TrainingOnlyParameters() { return t2p_->parameters(); }

// A Linear over the channel dimension `dim` of x.
torch::Tensor FgaSegHeadImpl::ChannelLinear(torch::nn::Linear& linear, const torch::Tensor& x,
                                            int64_t dim) {
  return linear->forward(x.movedim(dim, -1)).movedim(-1, dim);
}

FgaSegOutputs FgaSegHeadImpl::forward(const FgaSegInputs& in, bool training_outputs) {
  const FgaSegConfig& c = config_;
  TORCH_CHECK(in.dense.dim() == 4 && in.dense.size(1) == c.embed_dim, "fgaseg: dense features [B, ",
              c.embed_dim, ", h, w] expected, got ", in.dense.sizes());
  TORCH_CHECK(in.guidance.size() == 2, "fgaseg: two guidance maps expected, got ",
              in.guidance.size());
  TORCH_CHECK(in.classes.dim() == 3 && in.classes.size(2) == c.embed_dim &&
                  in.class_valid.sizes() == in.classes.sizes().slice(0, 2),
              "fgaseg: classes [B, T, ", c.embed_dim, "] with class_valid [B, T] expected");
  const int64_t b = in.dense.size(0), h = in.dense.size(2), w = in.dense.size(3);
  FgaSegOutputs out;

  // P2Tformer, then the two similarity volumes [B, T, h, w].
  torch::Tensor text = p2t_->forward(in.dense, in.classes);
  if (training_outputs) out.alignment = t2p_->forward(in.dense, text);
  torch::Tensor valid = in.class_valid;
  torch::Tensor corr_global =
      torch::einsum("bchw,btc->bthw", {F::normalize(in.dense, F::NormalizeFuncOptions().dim(1)),
                                       F::normalize(text, F::NormalizeFuncOptions().dim(-1))});
  torch::Tensor corr_local = local_align_->forward(in.dense, text);
  // More classes than aggregation's fixed length: keep, per image, the pad_len with the
  // highest global similarity anywhere (CAT-Seg); the others read -100.
  const int64_t all_classes = text.size(1);
  torch::Tensor chosen;  // [B, pad_len] indices into the request's classes
  if (c.pad_len > 0 && all_classes > c.pad_len) {
    const torch::Tensor best =
        corr_global.flatten(2)
            .amax(-1)
            .to(torch::kFloat32)
            .masked_fill(valid.logical_not(), -std::numeric_limits<float>::infinity());
    chosen = std::get<1>(best.topk(c.pad_len, 1));
    auto gather = [&](const torch::Tensor& x) {
      const std::vector<int64_t> shape = x.sizes().vec();
      std::vector<int64_t> expand = shape;
      expand[1] = c.pad_len;
      torch::Tensor index = chosen;
      for (size_t d = 2; d < shape.size(); ++d) index = index.unsqueeze(-1);
      return x.gather(1, index.expand(expand));
    };
    text = gather(text);
    corr_global = gather(corr_global);
    corr_local = gather(corr_local);
    valid = gather(valid);
  }
  const int64_t t = text.size(1);

  // Embedded and fused cost volume [B, hidden, T, h, w].
  auto embed = [&](torch::nn::Conv2d& conv, const torch::Tensor& corr) {
    return conv(corr.reshape({b * t, 1, h, w})).view({b, t, c.hidden_dim, h, w}).transpose(1, 2);
  };
  const torch::Tensor global_embed = embed(conv1_, corr_global);
  const torch::Tensor local_embed = embed(conv2_, corr_local);
  const torch::Tensor appearance = torch::relu(guidance_projection_(in.dense));
  const torch::Tensor text_guidance =
      torch::relu(text_guidance_projection_(F::normalize(text, F::NormalizeFuncOptions().dim(-1))));
  const std::vector<torch::Tensor> decoder_guidance = {
      torch::relu(decoder_guidance_projection_[0](upsample1_(in.guidance[0]))),
      torch::relu(decoder_guidance_projection_[1](upsample2_(in.guidance[1])))};
  torch::Tensor corr = ChannelLinear(conv_cat_, torch::cat({global_embed, local_embed}, 1), 1);
  auto per_class = [&](const torch::Tensor& x) {  // [B, C, T, h, w] -> [B*T, C, h, w]
    return x.transpose(1, 2).reshape({b * t, x.size(1), x.size(3), x.size(4)});
  };
  auto as_classes = [&](const torch::Tensor& maps, int64_t hh, int64_t ww) {
    return maps.view({b, t, hh, ww});
  };
  if (training_outputs) out.aux0 = as_classes(head_aux0_(per_class(corr)), h, w);
  for (AggregationLayer& layer : layers_)
    corr = layer->forward(corr, appearance, text_guidance, valid);

  // Upsampling decoder, over the kept (image, class) rows only.
  torch::Tensor x = ChannelLinear(conv_cat_decoder_1_,
                                  torch::cat({per_class(corr), per_class(local_embed)}, 1), 1);
  const torch::Tensor aux1 = as_classes(head_aux1_(x), h, w);
  const bool select = !training_outputs && c.top_k > 0;
  torch::Tensor kept = select ? TopKClasses(aux1, valid, c.top_k) : valid.clone();
  torch::Tensor rows = KeptRows(kept);
  const torch::Tensor image_of_row = torch::arange(b, rows.options()).repeat_interleave(t);
  auto guidance_for = [&](const torch::Tensor& g, const torch::Tensor& r) {
    return g.index_select(0, image_of_row.index_select(0, r));
  };
  x = decoder1_->forward(x.index_select(0, rows), guidance_for(decoder_guidance[0], rows));
  const torch::Tensor local_up =
      torch::relu(local_conv_->forward(local_up_(per_class(local_embed).index_select(0, rows))));
  x = ChannelLinear(conv_cat_decoder_2_, torch::cat({x, local_up}, 1), 1);
  const torch::Tensor aux2_rows = head_aux2_(x);  // [rows, 1, 2h, 2w]
  if (select) {
    // Second selection among the rows that are left.
    torch::Tensor aux2 =
        torch::full({b * t, 1, 2 * h, 2 * w}, -std::numeric_limits<float>::infinity(),
                    aux2_rows.options().dtype(torch::kFloat32));
    aux2.index_copy_(0, rows, aux2_rows.to(torch::kFloat32));
    const torch::Tensor kept2 = TopKClasses(aux2.view({b, t, 2 * h, 2 * w}), kept, c.top_k);
    const torch::Tensor keep_rows = kept2.flatten().index_select(0, rows).nonzero().squeeze(1);
    x = x.index_select(0, keep_rows);
    rows = rows.index_select(0, keep_rows);
    kept = kept2;
  } else {
    // Rows are the valid classes only: batch padding reads -100, as in the logits.
    torch::Tensor aux2 =
        torch::full({b * t, 2 * h, 2 * w}, kFgaSegSkippedLogit, aux2_rows.options());
    aux2.index_copy_(0, rows, aux2_rows.squeeze(1));
    out.aux2 = as_classes(aux2, 2 * h, 2 * w);
  }
  x = head_(decoder2_->forward(x, guidance_for(decoder_guidance[1], rows)));  // [rows, 1, 4h, 4w]
  torch::Tensor logits = torch::full({b * t, 4 * h, 4 * w}, kFgaSegSkippedLogit, x.options());
  logits.index_copy_(0, rows, x.squeeze(1));
  logits = logits.view({b, t, 4 * h, 4 * w});
  if (training_outputs) out.aux1 = aux1;
  if (chosen.defined()) {  // Back to the request's class order; the cut classes read -100.
    torch::Tensor full =
        torch::full({b, all_classes, 4 * h, 4 * w}, kFgaSegSkippedLogit, logits.options());
    full.scatter_(1, chosen.view({b, t, 1, 1}).expand({b, t, 4 * h, 4 * w}), logits);
    torch::Tensor full_kept = torch::zeros({b, all_classes}, kept.options());
    full_kept.scatter_(1, chosen, kept);
    logits = full;
    kept = full_kept;
  }
  out.logits = logits;
  out.kept = kept;
  return out;
}

}  // namespace ovseg
