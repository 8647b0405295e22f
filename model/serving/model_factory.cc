#include "model/serving/model_factory.h"

#include <filesystem>
#include <optional>

#include "absl/strings/str_cat.h"
#include "model/clip/clip_text_encoder.h"
#include "model/clip/clip_weights.h"
#include "model/mask2former/mask2former_generator.h"
#include "model/mask2former/mask2former_weights.h"
#include "model/runtime/torch_precision.h"
#include "model/runtime/torch_runtime.h"
#include "model/serving/fgaseg_checkpoint.h"
#include "model/serving/fovseg_checkpoint.h"
#include "model/serving/fovseg_pipeline.h"

namespace ovseg {
namespace {

// CLIP as configured, on the configured device and precision. `weights_sha256`, when
// given, receives the base-weight fingerprint (taken before the precision conversion).
absl::StatusOr<ClipModel> LoadConfiguredClip(const v1::ModelConfig& config,
                                             torch::Device* device_out,
                                             std::string* weights_sha256 = nullptr) {
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
  if (weights_sha256 != nullptr) *weights_sha256 = ClipWeightsFingerprint(*model);
  *device_out = torch::Device(*device);
  (*model)->to(*device_out, *dtype);
  (*model)->visual->ClearCache();
  return model;
}

// The checkpoint's FGAseg head, checked against the CLIP it will read, with the serving
// knobs of `config` (Top-K, fusion weights); nullopt when the checkpoint has no head.
absl::StatusOr<std::optional<DenseHeadRunner>> LoadDenseHead(const v1::ModelConfig& config,
                                                             const Checkpoint& checkpoint,
                                                             ClipModel& clip,
                                                             torch::Device device) {
  std::optional<int64_t> top_k;
  if (config.has_dense_top_k()) top_k = config.dense_top_k();
  absl::StatusOr<std::optional<FgaSegHead>> head = LoadFgaSegHead(checkpoint, top_k);
  if (!head.ok()) return head.status();
  if (!head->has_value()) return std::optional<DenseHeadRunner>();
  const FgaSegConfig& c = (**head)->config();
  const int64_t width = clip->config().vision.width;
  const int64_t blocks = clip->config().vision.layers;
  const std::string where = absl::StrCat("model.checkpoint ", config.checkpoint(), ": FGAseg ");
  if (c.embed_dim != clip->config().embed_dim || c.clip_width != width) {
    return absl::FailedPreconditionError(absl::StrCat(
        where, "head expects CLIP embed_dim ", c.embed_dim, " and width ", c.clip_width,
        "; model.clip_weights has ", clip->config().embed_dim, " and ", width));
  }
  for (int64_t layer : c.guidance_layers) {
    if (layer < 0 || layer >= blocks - 1) {
      return absl::FailedPreconditionError(absl::StrCat(
          where, "guidance layer ", layer, " is outside CLIP's blocks 0..", blocks - 2));
    }
  }
  (**head)->to(device, clip->text_projection.scalar_type());
  FusionOptions fusion;
  fusion.seen_weight = config.has_fusion_seen_weight() ? config.fusion_seen_weight() : 0.4;
  fusion.unseen_weight = config.has_fusion_unseen_weight() ? config.fusion_unseen_weight() : 0.8;
  return std::optional<DenseHeadRunner>(
      std::in_place, **head, SeenVocabulary(checkpoint.metadata.training_vocabulary), fusion);
}

}  // namespace

absl::StatusOr<std::shared_ptr<TextEncoder>> CreateClipTextEncoder(const v1::ModelConfig& config) {
  torch::Device device(torch::kCPU);
  absl::StatusOr<ClipModel> model = LoadConfiguredClip(config, &device);
  if (!model.ok()) return model.status();
  return std::make_shared<ClipTextEncoder>(*std::move(model), ClipTokenizer::Default());
}

// The frozen base every checkpoint is trained on, loaded once.
struct ServingModelLoader::Base {
  v1::ModelConfig config;
  std::string device;
  torch::Device torch_device{torch::kCPU};
  ClipModel clip{nullptr};
  std::shared_ptr<ClipTextEncoder> text;
  std::shared_ptr<MaskGenerator> generator;
  std::string clip_sha256, generator_sha256;
};

ServingModelLoader::ServingModelLoader(std::unique_ptr<Base> base) : base_(std::move(base)) {}
ServingModelLoader::~ServingModelLoader() = default;

absl::StatusOr<std::unique_ptr<ServingModelLoader>> ServingModelLoader::Create(
    const v1::ModelConfig& config) {
  if (config.preset().empty()) {
    return absl::InvalidArgumentError("model.preset is required (e.g. \"fovseg-vit-b16\")");
  }
  auto base = std::make_unique<Base>();
  base->config = config;
  absl::StatusOr<std::string> device = ResolveDevice(config.device());
  if (!device.ok()) return device.status();
  base->device = *device;
  if (absl::Status check = RunTorchSelfCheck(*device); !check.ok()) return check;
  if (config.clip_weights().empty()) {
    return absl::UnimplementedError(absl::StrCat(
        "model preset \"", config.preset(), "\" cannot be built: LibTorch ",
        DescribeTorchRuntime().version, " runs on ", *device,
        ", but no model.clip_weights are configured and no trained demo model exists yet. "
        "The server refuses to start rather than serve fake output."));
  }
  // The fingerprint is of the weights as published (before the precision conversion):
  // every checkpoint names the base it was trained on by it.
  absl::StatusOr<ClipModel> clip =
      LoadConfiguredClip(config, &base->torch_device, &base->clip_sha256);
  if (!clip.ok()) return clip.status();
  base->clip = *clip;
  base->text = std::make_shared<ClipTextEncoder>(*clip, ClipTokenizer::Default());
  if (!config.mask_generator_weights().empty()) {
    Mask2FormerLoadOptions options;
    if (config.mask_generator_heads() > 0) options.heads = config.mask_generator_heads();
    absl::StatusOr<Mask2Former> m2f = LoadMask2Former(config.mask_generator_weights(), options);
    if (!m2f.ok()) {
      return absl::Status(m2f.status().code(),
                          absl::StrCat("model.mask_generator_weights: ", m2f.status().message()));
    }
    base->generator_sha256 = Mask2FormerWeightsFingerprint(*m2f);
    (*m2f)->to(base->torch_device, (*clip)->text_projection.scalar_type());
    base->generator = std::make_shared<Mask2FormerGenerator>(*m2f);
  }
  return std::unique_ptr<ServingModelLoader>(new ServingModelLoader(std::move(base)));
}

absl::StatusOr<ServingModel> ServingModelLoader::Build(const std::string& checkpoint_path) const {
  const v1::ModelConfig& config = base_->config;
  ClipModel& clip = base_->clip;
  std::optional<Checkpoint> checkpoint;
  if (!checkpoint_path.empty()) {
    absl::StatusOr<Checkpoint> opened = OpenCheckpoint(checkpoint_path);
    if (!opened.ok()) return opened.status();
    checkpoint = *std::move(opened);
    if (absl::Status s = CheckCheckpointBase(checkpoint->metadata, config.preset(),
                                             base_->clip_sha256, base_->generator_sha256);
        !s.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("checkpoint ", checkpoint_path, ": ", s.message()));
    }
  }
  // The classifier's trained tensors (TeVA, adapter, void, f_q) are its own; CLIP's frozen
  // weights are shared with the serving model, so a standby costs only those.
  MaskClassifier classifier(clip->visual, clip->config().embed_dim,
                            checkpoint ? checkpoint->metadata.classifier : MaskClassifierConfig{});
  classifier->to(base_->torch_device, clip->text_projection.scalar_type());
  std::optional<DenseHeadRunner> dense_head;
  PipelineInfo info;
  info.model_name = config.preset();
  info.model_version =
      absl::StrCat("clip-", base_->text->Fingerprint().substr(0, 12), "-untrained");
  if (checkpoint) {
    if (absl::Status s = LoadCheckpointInto(*checkpoint, classifier); !s.ok()) return s;
    v1::ModelConfig with_path = config;
    with_path.set_checkpoint(checkpoint_path);
    absl::StatusOr<std::optional<DenseHeadRunner>> loaded =
        LoadDenseHead(with_path, *checkpoint, clip, base_->torch_device);
    if (!loaded.ok()) return loaded.status();
    dense_head = *std::move(loaded);
    info.model_version = absl::StrCat(std::filesystem::path(checkpoint_path).stem().string(),
                                      "@step", checkpoint->metadata.step);
  }
  info.device = base_->device;
  info.tasks = {SegmentTask::kSemantic, SegmentTask::kPanoptic, SegmentTask::kInstance};
  ServingModel model;
  model.text_encoder = base_->text;
  FovSegPipelineOptions options;
  options.teva_cache_bytes = static_cast<int64_t>(config.teva_cache_max_bytes());
  model.pipeline =
      std::make_shared<FovSegPipeline>(std::move(classifier), base_->torch_device, info,
                                       base_->generator, options, std::move(dense_head));
  return model;
}

absl::StatusOr<ServingModel> CreateServingModel(const v1::ModelConfig& config) {
  absl::StatusOr<std::unique_ptr<ServingModelLoader>> loader = ServingModelLoader::Create(config);
  if (!loader.ok()) return loader.status();
  absl::StatusOr<ServingModel> model = (*loader)->Build(config.checkpoint());
  if (!model.ok() && !config.checkpoint().empty() &&
      model.status().code() == absl::StatusCode::kFailedPrecondition) {
    return absl::FailedPreconditionError(absl::StrCat("model.", model.status().message()));
  }
  return model;
}

}  // namespace ovseg
