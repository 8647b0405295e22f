#include "model/serving/base_weights.h"

#include "absl/strings/str_cat.h"
#include "model/clip/clip_weights.h"
#include "model/mask2former/mask2former_generator.h"
#include "model/mask2former/mask2former_weights.h"
#include "model/runtime/torch_precision.h"
#include "model/runtime/torch_runtime.h"

namespace ovseg {

absl::StatusOr<ClipModel> LoadConfiguredClip(const v1::ModelConfig& config,
                                             torch::Device* device_out,
                                             std::string* weights_sha256) {
  if (config.clip_weights().empty()) {
    return absl::InvalidArgumentError("model.clip_weights is required");
  }
  absl::StatusOr<std::string> device = ResolveDevice(config.device());
  if (!device.ok()) return device.status();
  absl::StatusOr<torch::ScalarType> dtype =
      ParsePrecision(config.precision(), *device, "model.precision");
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
  if (weights_sha256 != nullptr) *weights_sha256 = ClipWeightsFingerprint(*model);
  *device_out = torch::Device(*device);
  (*model)->to(*device_out, *dtype);
  (*model)->visual->ClearCache();
  return model;
}

absl::StatusOr<BaseWeights> LoadBaseWeights(const v1::ModelConfig& config) {
  if (config.preset().empty()) {
    return absl::InvalidArgumentError("model.preset is required (e.g. \"fovseg-vit-b16\")");
  }
  BaseWeights base;
  absl::StatusOr<std::string> device = ResolveDevice(config.device());
  if (!device.ok()) return device.status();
  base.device_name = *device;
  if (absl::Status check = RunTorchSelfCheck(*device); !check.ok()) return check;
  if (config.clip_weights().empty()) {
    return absl::UnimplementedError(absl::StrCat(
        "model preset \"", config.preset(), "\" cannot be built: LibTorch ",
        DescribeTorchRuntime().version, " runs on ", *device,
        ", but no model.clip_weights are configured (configs/server.pbtxt names the embedded "
        "demo model in models/demo/). Nothing runs on fake weights: the server refuses to "
        "start rather than serve fake output."));
  }
  // The fingerprint is of the weights as published (before the precision conversion):
  // every checkpoint names the base it was trained on by it.
  absl::StatusOr<ClipModel> clip = LoadConfiguredClip(config, &base.device, &base.clip_sha256);
  if (!clip.ok()) return clip.status();
  base.clip = *clip;
  if (!config.mask_generator_weights().empty()) {
    Mask2FormerLoadOptions options;
    if (config.mask_generator_heads() > 0) options.heads = config.mask_generator_heads();
    absl::StatusOr<Mask2Former> m2f = LoadMask2Former(config.mask_generator_weights(), options);
    if (!m2f.ok()) {
      return absl::Status(m2f.status().code(),
                          absl::StrCat("model.mask_generator_weights: ", m2f.status().message()));
    }
    base.generator_sha256 = Mask2FormerWeightsFingerprint(*m2f);
    (*m2f)->to(base.device, (*clip)->text_projection.scalar_type());
    base.generator = std::make_shared<Mask2FormerGenerator>(*m2f);
  }
  return base;
}

}  // namespace ovseg
