#include "model/serving/model_factory.h"

#include "absl/strings/str_cat.h"
#include "model/clip/clip_text_encoder.h"
#include "model/clip/clip_weights.h"
#include "model/runtime/torch_runtime.h"

namespace ovseg {
namespace {

absl::StatusOr<torch::ScalarType> Precision(const std::string& precision,
                                            const std::string& device) {
  if (precision.empty() || precision == "fp32") return torch::kFloat32;
  if (precision == "bf16") return torch::kBFloat16;
  if (precision == "fp16") {
    if (device.rfind("cuda", 0) != 0) {
      return absl::InvalidArgumentError(
          "model.precision \"fp16\" runs on CUDA only (use bf16 on CPU)");
    }
    return torch::kFloat16;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("model.precision \"", precision, "\": expected fp32, bf16 or fp16"));
}

}  // namespace

absl::StatusOr<std::shared_ptr<TextEncoder>> CreateClipTextEncoder(const v1::ModelConfig& config) {
  if (config.clip_weights().empty()) {
    return absl::InvalidArgumentError("model.clip_weights is required");
  }
  absl::StatusOr<std::string> device =
      ResolveDevice(config.device().empty() ? "cpu" : config.device());
  if (!device.ok()) return device.status();
  absl::StatusOr<torch::ScalarType> dtype = Precision(config.precision(), *device);
  if (!dtype.ok()) return dtype.status();
  ClipLoadOptions options;
  absl::StatusOr<ClipWeightFormat> format =
      ParseClipWeightFormat(config.clip_format().empty() ? "auto" : config.clip_format());
  if (!format.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("model.clip_format: ", format.status().message()));
  }
  options.format = *format;
  if (config.has_clip_quick_gelu()) options.quick_gelu = config.clip_quick_gelu();
  const std::string& interpolation = config.pos_embed_interpolation();
  if (interpolation.empty() || interpolation == "bilinear") {
    options.interpolation = PosEmbedInterpolation::kBilinear;
  } else if (interpolation == "bicubic") {
    options.interpolation = PosEmbedInterpolation::kBicubic;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "model.pos_embed_interpolation \"", interpolation, "\": expected bilinear or bicubic"));
  }
  absl::StatusOr<ClipModel> model = LoadClipModel(config.clip_weights(), options);
  if (!model.ok()) return model.status();
  (*model)->to(torch::Device(*device), *dtype);
  (*model)->visual->ClearCache();
  return std::make_shared<ClipTextEncoder>(*std::move(model), ClipTokenizer::Default());
}

absl::StatusOr<ServingModel> CreateServingModel(const v1::ModelConfig& config) {
  if (config.preset().empty()) {
    return absl::InvalidArgumentError("model.preset is required (e.g. \"fovseg-vit-b16\")");
  }
  absl::StatusOr<std::string> device = ResolveDevice(config.device());
  if (!device.ok()) return device.status();
  if (absl::Status check = RunTorchSelfCheck(*device); !check.ok()) return check;
  std::string clip = "no model.clip_weights configured";
  if (!config.clip_weights().empty()) {
    absl::StatusOr<std::shared_ptr<TextEncoder>> text = CreateClipTextEncoder(config);
    if (!text.ok()) return text.status();
    clip = absl::StrCat("the CLIP encoders loaded from ", config.clip_weights(),
                        " (text fingerprint ", (*text)->Fingerprint().substr(0, 12), ")");
  }
  // The TeVA classifier (issue 4), Mask2Former (issue 5) and the FGAseg head (issue 6)
  // complete a preset.
  return absl::UnimplementedError(
      absl::StrCat("model preset \"", config.preset(), "\" cannot be built yet: LibTorch ",
                   DescribeTorchRuntime().version, " runs on ", *device, " with ", clip,
                   ", but the TeVA mask classifier, Mask2Former generator and FGAseg head are not "
                   "implemented in this build. The server refuses to start rather than serve fake "
                   "output."));
}

}  // namespace ovseg
