#include "model/mask2former/mask2former_generator.h"

#include "absl/strings/str_cat.h"

namespace ovseg {
namespace F = torch::nn::functional;
namespace {

// CLIP's and ImageNet's per-channel statistics (RGB, on [0, 1] pixels).
constexpr double kClipMean[3] = {0.48145466, 0.4578275, 0.40821073};
constexpr double kClipStd[3] = {0.26862954, 0.26130258, 0.27577711};
constexpr double kImageNetMean[3] = {0.485, 0.456, 0.406};
constexpr double kImageNetStd[3] = {0.229, 0.224, 0.225};

int64_t RoundUp(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

}  // namespace

torch::Tensor Objectness(const torch::Tensor& class_logits) {
  return 1.0 - torch::softmax(class_logits.to(torch::kFloat32), -1).select(-1, -1);
}

Mask2FormerGenerator::Mask2FormerGenerator(Mask2Former model) : model_(std::move(model)) {}

std::string Mask2FormerGenerator::name() const {
  return absl::StrCat("mask2former(", model_->config().Describe(), ")");
}

torch::Tensor ClipToMask2FormerInput(const torch::Tensor& images) {
  const int64_t h = images.size(2), w = images.size(3);
  // x_imagenet = (x_clip * std_clip + mean_clip - mean_imagenet) / std_imagenet
  std::vector<float> scale(3), shift(3);
  for (int c = 0; c < 3; ++c) {
    scale[c] = static_cast<float>(kClipStd[c] / kImageNetStd[c]);
    shift[c] = static_cast<float>((kClipMean[c] - kImageNetMean[c]) / kImageNetStd[c]);
  }
  const auto device = torch::TensorOptions().device(images.device());
  torch::Tensor x = images.to(torch::kFloat32) * torch::tensor(scale, device).view({1, 3, 1, 1}) +
                    torch::tensor(shift, device).view({1, 3, 1, 1});
  const int64_t ph = RoundUp(h, kMask2FormerSizeDivisibility);
  const int64_t pw = RoundUp(w, kMask2FormerSizeDivisibility);
  if (ph != h || pw != w) x = F::pad(x, F::PadFuncOptions({0, pw - w, 0, ph - h}));
  return x.to(images.scalar_type());
}

std::vector<MaskProposals> Mask2FormerGenerator::Generate(const torch::Tensor& images) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == 3,
              "mask generator: expected [B, 3, H, W], got ", images.sizes());
  const int64_t b = images.size(0), h = images.size(2), w = images.size(3);
  const torch::Tensor x = ClipToMask2FormerInput(images);
  const MaskPrediction final = model_->forward(x, /*all_stages=*/false).back();
  // Crop to the image: the 1/4 cells that hold any of its pixels.
  torch::Tensor logits = final.mask_logits.narrow(2, 0, (h + 3) / 4).narrow(3, 0, (w + 3) / 4);
  const torch::Tensor objectness = Objectness(final.class_logits);
  std::vector<MaskProposals> out;
  for (int64_t i = 0; i < b; ++i) {
    const auto [score, order] = objectness[i].sort(/*stable=*/true, /*dim=*/0, /*descending=*/true);
    out.push_back({logits[i].index_select(0, order), score});
  }
  return out;
}

}  // namespace ovseg
