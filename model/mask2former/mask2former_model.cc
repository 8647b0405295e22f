#include "model/mask2former/mask2former_model.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ovseg {

Mask2FormerConfig Mask2FormerConfig::ResNet50Coco() {
  Mask2FormerConfig c;
  c.backbone = Backbone::kResNet;
  c.resnet = ResNetConfig::ResNet50();
  return c;
}

Mask2FormerConfig Mask2FormerConfig::SwinCoco(const SwinConfig& swin, int64_t queries) {
  Mask2FormerConfig c;
  c.backbone = Backbone::kSwin;
  c.swin = swin;
  c.decoder.queries = queries;
  return c;
}

namespace {
void MakeTiny(Mask2FormerConfig& c) {
  c.pixel_decoder.feature_dim = 64;
  c.pixel_decoder.mask_dim = 64;
  c.pixel_decoder.heads = 4;
  c.pixel_decoder.encoder_layers = 2;
  c.pixel_decoder.ffn_dim = 128;
  c.decoder.hidden_dim = 64;
  c.decoder.queries = 50;
  c.decoder.layers = 3;
  c.decoder.heads = 4;
  c.decoder.ffn_dim = 128;
  c.decoder.num_classes = 1;
}
}  // namespace

Mask2FormerConfig Mask2FormerConfig::TinyResNet() {
  Mask2FormerConfig c;
  c.backbone = Backbone::kResNet;
  c.resnet = ResNetConfig::Micro();
  MakeTiny(c);
  return c;
}

Mask2FormerConfig Mask2FormerConfig::TinySwin() {
  Mask2FormerConfig c;
  c.backbone = Backbone::kSwin;
  c.swin = {16, {1, 1, 2, 1}, {1, 2, 4, 8}, 4, 4, 2};
  MakeTiny(c);
  return c;
}

std::string Mask2FormerConfig::Describe() const {
  const std::string backbone_text =
      backbone == Backbone::kSwin
          ? absl::StrCat("swin(embed ", swin.embed_dim, ", depths ",
                         absl::StrJoin(swin.depths, "/"), ", heads ",
                         absl::StrJoin(swin.heads, "/"), ", window ", swin.window, ")")
          : absl::StrCat("resnet(", resnet.bottleneck ? "bottleneck" : "basic", ", depths ",
                         absl::StrJoin(resnet.depths, "/"), ", widths ",
                         absl::StrJoin(resnet.widths, "/"), ")");
  return absl::StrCat(
      backbone_text, ", pixel decoder ", pixel_decoder.feature_dim, "x",
      pixel_decoder.encoder_layers, " layers",
      pixel_decoder.positions_in_features ? " (positions in features)" : "",
      pixel_decoder.positions_in_mask_features ? " (positions in mask features)" : "", ", decoder ",
      decoder.hidden_dim, "x", decoder.layers, " layers, ", decoder.queries, " queries, ",
      decoder.num_classes, " classes");
}

Mask2FormerImpl::Mask2FormerImpl(Mask2FormerConfig config) : config_(std::move(config)) {
  if (config_.backbone == Mask2FormerConfig::Backbone::kSwin) {
    backbone_ = register_module("backbone", std::make_shared<SwinBackboneImpl>(config_.swin));
  } else {
    backbone_ = register_module("backbone", std::make_shared<ResNetBackboneImpl>(config_.resnet));
  }
  config_.pixel_decoder.in_channels = backbone_->channels();
  config_.decoder.in_channels = config_.pixel_decoder.feature_dim;
  config_.decoder.mask_dim = config_.pixel_decoder.mask_dim;
  pixel_decoder_ = register_module("pixel_decoder", PixelDecoder(config_.pixel_decoder));
  transformer_ = register_module("transformer", MaskedAttentionDecoder(config_.decoder));
}

std::vector<MaskPrediction> Mask2FormerImpl::forward(const torch::Tensor& images, bool all_stages) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == 3, "mask2former: expected [B, 3, H, W], got ",
              images.sizes());
  TORCH_CHECK(images.size(2) % kMask2FormerSizeDivisibility == 0 &&
                  images.size(3) % kMask2FormerSizeDivisibility == 0,
              "mask2former: input ", images.size(2), "x", images.size(3),
              " is not padded to a multiple of ", kMask2FormerSizeDivisibility);
  const PixelDecoderOutput pixels = pixel_decoder_->forward(backbone_->Features(images));
  return transformer_->forward(pixels.multi_scale, pixels.mask_features, all_stages);
}

}  // namespace ovseg
