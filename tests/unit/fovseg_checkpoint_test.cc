// Trained checkpoints: round trip of the classifier's trained tensors and metadata, every
// malformed case named, and the factory serving a checkpoint only on its own base weights.
#include "model/serving/fovseg_checkpoint.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "model/clip/clip_weights.h"
#include "model/serving/fgaseg_checkpoint.h"
#include "model/serving/model_factory.h"
#include "tests/fakes/tiny_fgaseg_config.h"

namespace ovseg {
namespace {

std::string TinyClipPath() {
  const char* root = std::getenv("OVSEG_SOURCE_DIR");
  return std::string(root ? root : ".") + "/tests/data/clip_tiny/openai.safetensors";
}

ClipModel TinyClip() {
  ClipLoadOptions options;
  options.quick_gelu = true;
  absl::StatusOr<ClipModel> clip = LoadClipModel(TinyClipPath(), options);
  EXPECT_TRUE(clip.ok()) << clip.status();
  return *clip;
}

std::string TempPath(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) / name).string();
}

MaskClassifierConfig NonDefaultConfig() {
  MaskClassifierConfig c;
  c.teva_residual = false;
  c.adapter_hidden = 8;
  c.temperature = 50.0;
  return c;
}

// A classifier whose trained tensors are all away from their initial values.
MaskClassifier Trained(ClipModel& clip, const MaskClassifierConfig& config) {
  MaskClassifier classifier(clip->visual, clip->config().embed_dim, config);
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : ClassifierCheckpointTensors(classifier))
    t.add_(torch::randn_like(t) * 0.1);
  return classifier;
}

CheckpointMetadata Metadata(const ClipModel& clip) {
  CheckpointMetadata m;
  m.preset = "fovseg-tiny";
  m.clip_sha256 = ClipWeightsFingerprint(clip);
  m.classifier = NonDefaultConfig();
  m.step = 1200;
  m.training_vocabulary = {"cat", "dog, puppy"};
  m.eval_metrics_json = R"({"PQ": 12.5})";
  return m;
}

TEST(FovSegCheckpointTest, RoundTripRestoresEveryTrainedTensorAndTheMetadata) {
  torch::manual_seed(5);
  ClipModel clip = TinyClip();
  MaskClassifier trained = Trained(clip, NonDefaultConfig());
  const std::string path = TempPath("round_trip.safetensors");
  ASSERT_TRUE(WriteCheckpoint(path, trained, Metadata(clip)).ok());

  absl::StatusOr<Checkpoint> checkpoint = OpenCheckpoint(path);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  const CheckpointMetadata& m = checkpoint->metadata;
  EXPECT_EQ(m.preset, "fovseg-tiny");
  EXPECT_EQ(m.step, 1200);
  EXPECT_EQ(m.training_vocabulary, (std::vector<std::string>{"cat", "dog, puppy"}));
  EXPECT_EQ(m.eval_metrics_json, R"({"PQ": 12.5})");
  EXPECT_FALSE(m.classifier.teva_residual);
  EXPECT_EQ(m.classifier.adapter_hidden, 8);
  EXPECT_EQ(m.classifier.temperature, 50.0);
  // Only trained tensors: no frozen CLIP weight.
  for (const std::string& name : checkpoint->file->Names()) {
    EXPECT_EQ(name.rfind("classifier.", 0), 0u) << name;
    EXPECT_EQ(name.find("clip."), std::string::npos) << name;
  }
  EXPECT_TRUE(checkpoint->file->Contains("classifier.teva.0.g_k.weight"));
  EXPECT_TRUE(checkpoint->file->Contains("classifier.fq_weight_0"));
  EXPECT_TRUE(checkpoint->file->Contains("classifier.void_embedding"));

  MaskClassifier fresh(clip->visual, clip->config().embed_dim, m.classifier);
  ASSERT_TRUE(LoadCheckpointInto(*checkpoint, fresh).ok());
  auto want = ClassifierCheckpointTensors(trained);
  auto got = ClassifierCheckpointTensors(fresh);
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_TRUE(torch::equal(want[i].second, got[i].second)) << want[i].first;
  }
}

TEST(FovSegCheckpointTest, MismatchesAreNamedAndLeaveTheClassifierUntouched) {
  torch::manual_seed(6);
  ClipModel clip = TinyClip();
  MaskClassifier trained = Trained(clip, NonDefaultConfig());
  const std::string path = TempPath("mismatch.safetensors");
  ASSERT_TRUE(WriteCheckpoint(path, trained, Metadata(clip)).ok());
  absl::StatusOr<Checkpoint> checkpoint = OpenCheckpoint(path);
  ASSERT_TRUE(checkpoint.ok());

  MaskClassifier other(clip->visual, clip->config().embed_dim, MaskClassifierConfig{});
  const torch::Tensor before = other->adapter->conv1->weight.clone();
  const absl::Status s = LoadCheckpointInto(*checkpoint, other);  // adapter_hidden 16 vs 8
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message())
                .find("classifier.adapter.conv1.weight [8, 1, 3, 3] vs "
                      "[16, 1, 3, 3]"),
            std::string::npos)
      << s;
  EXPECT_TRUE(torch::equal(other->adapter->conv1->weight, before));

  // An extra tensor (say a FiSeR predictor saved by mistake) and a missing one.
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (auto& [name, t] : ClassifierCheckpointTensors(trained)) {
    if (name != "classifier.void_embedding") tensors.emplace_back(name, t.detach());
  }
  tensors.emplace_back("fiser.predictor.weight", torch::zeros({2}));
  const std::string extra = TempPath("extra.safetensors");
  ASSERT_TRUE(WriteSafetensors(extra, tensors, checkpoint->file->header().metadata).ok());
  absl::StatusOr<Checkpoint> bad = OpenCheckpoint(extra);
  ASSERT_TRUE(bad.ok());
  const std::string message(LoadCheckpointInto(*bad, trained).message());
  EXPECT_NE(message.find("missing: classifier.void_embedding"), std::string::npos) << message;
  EXPECT_NE(message.find("unexpected: fiser.predictor.weight"), std::string::npos) << message;

  // Metadata problems name the field.
  auto metadata = checkpoint->file->header().metadata;
  metadata["format_version"] = "2";
  ASSERT_TRUE(WriteSafetensors(extra, tensors, metadata).ok());
  EXPECT_NE(
      std::string(OpenCheckpoint(extra).status().message()).find("\"format_version\" is \"2\""),
      std::string::npos);
  metadata = checkpoint->file->header().metadata;
  metadata.erase("clip_sha256");
  ASSERT_TRUE(WriteSafetensors(extra, tensors, metadata).ok());
  EXPECT_NE(
      std::string(OpenCheckpoint(extra).status().message()).find("\"clip_sha256\" is missing"),
      std::string::npos);
  metadata = checkpoint->file->header().metadata;
  metadata["classifier_config"] = "{\"use_teva\": true}";
  ASSERT_TRUE(WriteSafetensors(extra, tensors, metadata).ok());
  EXPECT_NE(std::string(OpenCheckpoint(extra).status().message()).find("malformed metadata"),
            std::string::npos);

  EXPECT_EQ(CheckCheckpointBase(checkpoint->metadata, "fovseg-tiny", "0123").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      CheckCheckpointBase(checkpoint->metadata, "fovseg-vit-b16", checkpoint->metadata.clip_sha256)
          .code(),
      absl::StatusCode::kFailedPrecondition);
}

ImageRgb8 TestImage() {
  ImageRgb8 image{64, 64, PixelBuffer(64 * 64 * 3, 0)};
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = (i * 31) % 253;
  return image;
}

// Three random classes, every segment kept (score threshold 0).
PipelineRequest ThreeClassRequest(const ImageRgb8& image, ClipModel& clip, HeadMode mode) {
  auto vocabulary = std::make_shared<VocabularyEmbeddings>();
  vocabulary->num_labels = 3;
  vocabulary->dim = static_cast<int>(clip->config().embed_dim);
  const torch::Tensor e = torch::nn::functional::normalize(
      torch::randn({3, vocabulary->dim}), torch::nn::functional::NormalizeFuncOptions().dim(-1));
  vocabulary->data.assign(e.data_ptr<float>(), e.data_ptr<float>() + e.numel());
  PipelineRequest request;
  request.image = &image;
  request.vocabulary = vocabulary;
  request.is_thing.assign(3, true);
  request.head_mode = mode;
  request.params.score_threshold = 0.0f;
  return request;
}

TEST(FovSegCheckpointTest, FactoryServesACheckpointOnlyOnItsBaseWeights) {
  torch::manual_seed(7);
  ClipModel clip = TinyClip();
  MaskClassifier trained = Trained(clip, NonDefaultConfig());
  const std::string path = TempPath("served.safetensors");
  ASSERT_TRUE(WriteCheckpoint(path, trained, Metadata(clip)).ok());
  v1::ModelConfig config;
  config.set_preset("fovseg-tiny");
  config.set_clip_weights(TinyClipPath());
  config.set_clip_quick_gelu(true);
  config.set_checkpoint(path);
  absl::StatusOr<ServingModel> model = CreateServingModel(config);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->pipeline->Info().model_version, "served@step1200");
  // This checkpoint has no FGAseg head, so FUSED cannot be the default.
  config.set_default_head_mode("FUSED");
  const absl::Status no_head = CreateServingModel(config).status();
  EXPECT_EQ(no_head.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(no_head.message()).find("model.default_head_mode FUSED"), std::string::npos)
      << no_head;
  config.set_default_head_mode("MASK");
  EXPECT_TRUE(CreateServingModel(config).ok());
  config.clear_default_head_mode();

  CheckpointMetadata foreign = Metadata(clip);
  foreign.clip_sha256 = std::string(64, 'a');
  ASSERT_TRUE(WriteCheckpoint(path, trained, foreign).ok());
  const absl::Status s = CreateServingModel(config).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(s.message()).find("trained on CLIP weights aaaa"), std::string::npos) << s;
  config.set_checkpoint(TempPath("absent.safetensors"));
  EXPECT_FALSE(CreateServingModel(config).ok());
}

TEST(FovSegCheckpointTest, FactoryServesWithTheConfiguredMask2FormerGenerator) {
  torch::manual_seed(8);
  ClipModel clip = TinyClip();
  const char* root = std::getenv("OVSEG_SOURCE_DIR");
  const std::string generator_path =
      std::string(root ? root : ".") + "/tests/data/mask2former_tiny/resnet_weights.safetensors";
  v1::ModelConfig config;
  config.set_preset("fovseg-tiny");
  config.set_clip_weights(TinyClipPath());
  config.set_clip_quick_gelu(true);
  config.set_mask_generator_weights(generator_path);
  config.set_mask_generator_heads(4);
  absl::StatusOr<ServingModel> model = CreateServingModel(config);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_TRUE(model->pipeline->Info().generates_masks);
  // A request without regions is answered from the generator's proposals.
  const ImageRgb8 image = TestImage();
  PipelineRequest request = ThreeClassRequest(image, clip, HeadMode::kDefault);
  request.task = SegmentTask::kInstance;
  const auto results = model->pipeline->Run({request});
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_FALSE(results[0]->segments.empty());

  // The head count is not in the file; a wrong one is refused, naming the field.
  config.set_mask_generator_heads(3);
  absl::Status wrong = CreateServingModel(config).status();
  EXPECT_NE(std::string(wrong.message()).find("model.mask_generator_weights"), std::string::npos)
      << wrong;
  config.set_mask_generator_heads(4);
  // A checkpoint trained on another generator is refused.
  MaskClassifier trained = Trained(clip, NonDefaultConfig());
  CheckpointMetadata metadata = Metadata(clip);
  metadata.mask_generator_sha256 = std::string(64, 'b');
  const std::string path = TempPath("other_generator.safetensors");
  ASSERT_TRUE(WriteCheckpoint(path, trained, metadata).ok());
  config.set_checkpoint(path);
  const absl::Status s = CreateServingModel(config).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(s.message()).find("mask generator weights bbbb"), std::string::npos) << s;
}

// The shared tiny head, with non-default values where the round trip should show them.
FgaSegConfig TinyFgaSegConfig() {
  FgaSegConfig c = testing::TinyFgaSegConfig();
  c.guidance_layers = {0, 0};
  c.top_k = 3;
  return c;
}

TEST(FgaSegCheckpointTest, HeadRoundTripsWithoutItsTrainingOnlyBranch) {
  torch::manual_seed(9);
  ClipModel clip = TinyClip();
  MaskClassifier trained = Trained(clip, NonDefaultConfig());
  FgaSegHead head(TinyFgaSegConfig());
  {
    torch::NoGradGuard no_grad;
    for (auto& p : head->parameters()) p.add_(torch::randn_like(p) * 0.1);
  }
  const std::string path = TempPath("with_fgaseg.safetensors");
  ASSERT_TRUE(WriteCheckpointWithFgaSeg(path, trained, head, Metadata(clip)).ok());
  absl::StatusOr<Checkpoint> checkpoint = OpenCheckpoint(path);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  for (const std::string& name : checkpoint->file->Names()) {
    EXPECT_EQ(name.rfind("fgaseg.proj.", 0), std::string::npos) << name;  // T2P stays out
  }
  // The classifier loads as before; the head's tensors are not "unexpected" to it.
  MaskClassifier fresh(clip->visual, clip->config().embed_dim, checkpoint->metadata.classifier);
  ASSERT_TRUE(LoadCheckpointInto(*checkpoint, fresh).ok());
  absl::StatusOr<std::optional<FgaSegHead>> loaded = LoadFgaSegHead(*checkpoint);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((**loaded)->config().top_k, 3);
  EXPECT_EQ((**loaded)->config().guidance_layers, (std::vector<int64_t>{0, 0}));
  auto original = head->named_parameters();
  for (const auto& p : (**loaded)->named_parameters()) {
    if (p.key().rfind("proj.", 0) == 0) continue;
    EXPECT_TRUE(torch::equal(p.value(), original[p.key()])) << p.key();
  }
  // A checkpoint without a head has none; one with a tensor missing names it.
  const std::string plain = TempPath("plain.safetensors");
  ASSERT_TRUE(WriteCheckpoint(plain, trained, Metadata(clip)).ok());
  absl::StatusOr<Checkpoint> without = OpenCheckpoint(plain);
  ASSERT_TRUE(without.ok());
  absl::StatusOr<std::optional<FgaSegHead>> none = LoadFgaSegHead(*without);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  std::vector<std::pair<std::string, torch::Tensor>> partial = FgaSegCheckpointTensors(head);
  const std::string dropped = partial.front().first;
  partial.erase(partial.begin());
  CheckpointMetadata metadata = Metadata(clip);
  metadata.fgaseg_config_json = FgaSegConfigJson(head->config());
  const std::string broken = TempPath("broken_fgaseg.safetensors");
  ASSERT_TRUE(WriteCheckpoint(broken, trained, metadata, partial).ok());
  absl::StatusOr<Checkpoint> opened = OpenCheckpoint(broken);
  ASSERT_TRUE(opened.ok());
  const absl::Status s = LoadFgaSegHead(*opened).status();
  EXPECT_NE(std::string(s.message()).find("missing: " + dropped), std::string::npos) << s;
}

// The factory serves a checkpoint's head (DENSE and FUSED offered, the configured Top-K)
// only on a CLIP it fits; a head for another CLIP is refused, naming the mismatch.
TEST(FgaSegCheckpointTest, FactoryServesTheDenseHeadOnlyOnAClipItFits) {
  torch::manual_seed(10);
  ClipModel clip = TinyClip();
  MaskClassifier trained = Trained(clip, NonDefaultConfig());
  FgaSegConfig fitting = TinyFgaSegConfig();
  fitting.clip_width = clip->config().vision.width;
  FgaSegHead head(fitting);
  const std::string path = TempPath("dense_served.safetensors");
  ASSERT_TRUE(WriteCheckpointWithFgaSeg(path, trained, head, Metadata(clip)).ok());
  v1::ModelConfig config;
  config.set_preset("fovseg-tiny");
  config.set_clip_weights(TinyClipPath());
  config.set_clip_quick_gelu(true);
  config.set_checkpoint(path);
  config.set_dense_top_k(0);
  absl::StatusOr<ServingModel> model = CreateServingModel(config);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->pipeline->Info().head_modes,
            (std::vector<HeadMode>{HeadMode::kMask, HeadMode::kDense, HeadMode::kFused}));
  const ImageRgb8 image = TestImage();
  const PipelineRequest request = ThreeClassRequest(image, clip, HeadMode::kDense);
  const auto results = model->pipeline->Run({request});
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_FALSE(results[0]->segments.empty());
  EXPECT_EQ(results[0]->segment_id_map.size(), 64u * 64);

  FgaSegConfig other = fitting;
  other.clip_width = 16;
  FgaSegHead foreign(other);
  ASSERT_TRUE(WriteCheckpointWithFgaSeg(path, trained, foreign, Metadata(clip)).ok());
  const absl::Status s = CreateServingModel(config).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(s.message()).find("width 16"), std::string::npos) << s;
}

}  // namespace
}  // namespace ovseg
