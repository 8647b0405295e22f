#include "model/serving/model_factory.h"

#include <filesystem>
#include <new>
#include <optional>

#include "absl/strings/str_cat.h"
#include "model/clip/clip_text_encoder.h"
#include "model/clip/clip_weights.h"
#include "model/mask2former/mask2former_generator.h"
#include "model/mask2former/mask2former_weights.h"
#include "model/runtime/torch_precision.h"
#include "model/runtime/torch_runtime.h"
#include "model/serving/base_weights.h"
#include "model/serving/fgaseg_checkpoint.h"
#include "model/serving/fovseg_checkpoint.h"
#include "model/serving/fovseg_pipeline.h"

namespace ovseg {
namespace {

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

// LibTorch's messages carry a C++ backtrace after the first line.
std::string FirstLineOf(const char* what) {
  const std::string text(what);
  return text.substr(0, text.find('\n'));
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
  BaseWeights weights;
  std::shared_ptr<ClipTextEncoder> text;
};

ServingModelLoader::ServingModelLoader(std::unique_ptr<Base> base) : base_(std::move(base)) {}
ServingModelLoader::~ServingModelLoader() = default;

absl::StatusOr<std::unique_ptr<ServingModelLoader>> ServingModelLoader::Create(
    const v1::ModelConfig& config) {
  absl::StatusOr<BaseWeights> weights = LoadBaseWeights(config);
  if (!weights.ok()) return weights.status();
  auto base = std::make_unique<Base>();
  base->config = config;
  base->weights = *std::move(weights);
  base->text = std::make_shared<ClipTextEncoder>(base->weights.clip, ClipTokenizer::Default());
  return std::unique_ptr<ServingModelLoader>(new ServingModelLoader(std::move(base)));
}

absl::StatusOr<ServingModel> ServingModelLoader::Build(const std::string& checkpoint_path) const {
  // The exception boundary of a load: an allocation that fails while the standby's tensors
  // are made or moved to the device (std::bad_alloc, or LibTorch's own out-of-memory
  // error), or any other escape from LibTorch, is this load's error, never the process's.
  try {
    return BuildUnguarded(checkpoint_path);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrCat("loading \"", checkpoint_path, "\": out of memory while building the model"));
  } catch (const c10::OutOfMemoryError& e) {
    return absl::ResourceExhaustedError(absl::StrCat("loading \"", checkpoint_path,
                                                     "\": out of device memory while building the "
                                                     "model: ",
                                                     FirstLineOf(e.what())));
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("loading \"", checkpoint_path, "\": ", FirstLineOf(e.what())));
  }
}

absl::StatusOr<ServingModel> ServingModelLoader::BuildUnguarded(
    const std::string& checkpoint_path) const {
  const v1::ModelConfig& config = base_->config;
  ClipModel clip = base_->weights.clip;
  std::optional<Checkpoint> checkpoint;
  if (!checkpoint_path.empty()) {
    absl::StatusOr<Checkpoint> opened = OpenCheckpoint(checkpoint_path);
    if (!opened.ok()) return opened.status();
    checkpoint = *std::move(opened);
    if (absl::Status s =
            CheckCheckpointBase(checkpoint->metadata, config.preset(), base_->weights.clip_sha256,
                                base_->weights.generator_sha256);
        !s.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("checkpoint ", checkpoint_path, ": ", s.message()));
    }
  }
  // The classifier's trained tensors (TeVA, adapter, void, f_q) are its own; CLIP's frozen
  // weights are shared with the serving model, so a standby costs only those.
  MaskClassifier classifier(clip->visual, clip->config().embed_dim,
                            checkpoint ? checkpoint->metadata.classifier : MaskClassifierConfig{});
  classifier->to(base_->weights.device, clip->text_projection.scalar_type());
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
        LoadDenseHead(with_path, *checkpoint, clip, base_->weights.device);
    if (!loaded.ok()) return loaded.status();
    dense_head = *std::move(loaded);
    info.model_version = absl::StrCat(std::filesystem::path(checkpoint_path).stem().string(),
                                      "@step", checkpoint->metadata.step);
  }
  info.device = base_->weights.device_name;
  info.tasks = {SegmentTask::kSemantic, SegmentTask::kPanoptic, SegmentTask::kInstance};
  if (base_->weights.generator) info.tasks.push_back(SegmentTask::kProposals);
  ServingModel model;
  model.text_encoder = base_->text;
  if (checkpoint) model.training_prompt_templates = checkpoint->metadata.prompt_templates;
  FovSegPipelineOptions options;
  options.teva_cache_bytes = static_cast<int64_t>(config.teva_cache_max_bytes());
  options.crop_ensemble_weight = config.crop_ensemble_weight();
  options.objectness_weight = config.objectness_weight();
  options.crop_component_fraction = config.crop_component_fraction();
  options.proposal_split_fraction = config.proposal_split_fraction();
  options.guided_filter_radius = config.guided_filter_radius();
  if (config.guided_filter_eps() > 0) options.guided_filter_eps = config.guided_filter_eps();
  if (config.max_proposals() > 0) options.max_proposals = static_cast<int>(config.max_proposals());
  options.crop_size = clip->config().vision.image_size;
  if (config.default_head_mode() == "MASK") options.default_mode = HeadMode::kMask;
  if (config.default_head_mode() == "FUSED") {
    if (!dense_head) {
      return absl::FailedPreconditionError(absl::StrCat(
          "model.default_head_mode FUSED needs the FGAseg dense head, and checkpoint \"",
          checkpoint_path, "\" has none (no fgaseg.* tensors)"));
    }
    options.default_mode = HeadMode::kFused;
  }
  model.pipeline =
      std::make_shared<FovSegPipeline>(std::move(classifier), base_->weights.device, info,
                                       base_->weights.generator, options, std::move(dense_head));
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
