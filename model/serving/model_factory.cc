#include "model/serving/model_factory.h"

#include "absl/strings/str_cat.h"
#include "model/clip/clip_text_encoder.h"
#include "model/clip/clip_weights.h"
#include "model/runtime/torch_precision.h"
#include "model/runtime/torch_runtime.h"
#include "model/serving/fovseg_pipeline.h"

namespace ovseg {
namespace {

// CLIP as configured, on the configured device and precision.
absl::StatusOr<ClipModel> LoadConfiguredClip(const v1::ModelConfig& config,
                                             torch::Device* device_out) {
  if (config.clip_weights().empty()) {
    return absl::InvalidArgumentError("model.clip_weights is required");
  }
  absl::StatusOr<std::string> device =
      ResolveDevice(config.device().empty() ? "cpu" : config.device());
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
  *device_out = torch::Device(*device);
  (*model)->to(*device_out, *dtype);
  (*model)->visual->ClearCache();
  return model;
}

}  // namespace

absl::StatusOr<std::shared_ptr<TextEncoder>> CreateClipTextEncoder(const v1::ModelConfig& config) {
  torch::Device device(torch::kCPU);
  absl::StatusOr<ClipModel> model = LoadConfiguredClip(config, &device);
  if (!model.ok()) return model.status();
  return std::make_shared<ClipTextEncoder>(*std::move(model), ClipTokenizer::Default());
}

absl::StatusOr<ServingModel> CreateServingModel(const v1::ModelConfig& config) {
  if (config.preset().empty()) {
    return absl::InvalidArgumentError("model.preset is required (e.g. \"fovseg-vit-b16\")");
  }
  absl::StatusOr<std::string> device = ResolveDevice(config.device());
  if (!device.ok()) return device.status();
  if (absl::Status check = RunTorchSelfCheck(*device); !check.ok()) return check;
  if (config.clip_weights().empty()) {
    return absl::UnimplementedError(absl::StrCat(
        "model preset \"", config.preset(), "\" cannot be built: LibTorch ",
        DescribeTorchRuntime().version, " runs on ", *device,
        ", but no model.clip_weights are configured and no trained demo model exists yet "
        "(the Mask2Former generator and FGAseg head are also still missing). The server "
        "refuses to start rather than serve fake output."));
  }
  torch::Device torch_device(torch::kCPU);
  absl::StatusOr<ClipModel> clip = LoadConfiguredClip(config, &torch_device);
  if (!clip.ok()) return clip.status();
  auto text = std::make_shared<ClipTextEncoder>(*clip, ClipTokenizer::Default());
  MaskClassifier classifier((*clip)->visual, (*clip)->config().embed_dim, MaskClassifierConfig{});
  classifier->to(torch_device, (*clip)->text_projection.scalar_type());
  PipelineInfo info;
  info.model_name = config.preset();
  info.model_version = absl::StrCat("clip-", text->Fingerprint().substr(0, 12), "-untrained");
  info.device = *device;
  info.head_modes = {HeadMode::kMask, HeadMode::kFused};
  info.tasks = {SegmentTask::kSemantic, SegmentTask::kPanoptic, SegmentTask::kInstance};
  ServingModel model;
  model.text_encoder = text;
  model.pipeline = std::make_shared<FovSegPipeline>(std::move(classifier), torch_device, info);
  return model;
}

}  // namespace ovseg
