// FovSegPipeline's head modes with a tiny CLIP, a fake generator and a random FGAseg head:
// which modes are offered, what each one runs (and skips), that DENSE is the head on
// CLIP's dense features, that FUSED is the geometric ensemble of the two classifiers with
// the checkpoint's seen classes, and that a batch mixing modes answers as singles do.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "model/clip/clip_preprocess.h"
#include "model/fgaseg/clip_dense_features.h"
#include "model/maskformer/postprocess.h"
#include "model/serving/fovseg_pipeline.h"
#include "tests/fakes/tiny_fgaseg_config.h"

namespace ovseg {
namespace {

namespace F = torch::nn::functional;

constexpr int kWidth = 96, kHeight = 64;  // a 6x4 patch grid: not square, not whole windows

// Test double: n column-band proposals, objectness decreasing with the band.
class BandMaskGenerator : public MaskGenerator {
 public:
  std::vector<MaskProposals> Generate(const torch::Tensor& images) override {
    images_ += images.size(0);
    std::vector<MaskProposals> out;
    const int64_t h = images.size(2) / 4, w = images.size(3) / 4;
    for (int64_t b = 0; b < images.size(0); ++b) {
      torch::Tensor logits = torch::full({3, h, w}, -8.0f);
      for (int i = 0; i < 3; ++i) logits[i].narrow(1, i * w / 3, w / 3).fill_(8.0f);
      out.push_back({logits, torch::linspace(1.0, 0.1, 3)});
    }
    return out;
  }
  std::string name() const override { return "fake"; }
  int64_t images_ = 0;
};

ClipModel ModesClip() {
  torch::manual_seed(3);
  ClipConfig c;
  c.vision = {24, 3, 2, 16, 64};
  c.text = {32, 1, 1, 16, 512};
  c.embed_dim = 32;
  return ClipModel(c);
}

FgaSegConfig HeadConfig() {
  FgaSegConfig c = testing::TinyFgaSegConfig();
  c.guidance_layers = {0, 1};
  c.top_k = 0;  // every class through the decoder, so dense scores are smooth
  return c;
}

// A classifier temperature of 100 (MaskCLIP's) makes an untrained classifier's
// probabilities one-hot; 5 keeps every class in play.
MaskClassifierConfig SoftClassifier() {
  MaskClassifierConfig c;
  c.temperature = 5.0;
  return c;
}

struct Fixture {
  ClipModel clip = ModesClip();
  MaskClassifier classifier{clip->visual, 32, SoftClassifier()};
  FgaSegHead head{HeadConfig()};
  std::shared_ptr<BandMaskGenerator> generator = std::make_shared<BandMaskGenerator>();
  ImageRgb8 image{kWidth, kHeight, PixelBuffer(kWidth* kHeight * 3)};

  Fixture() {
    torch::manual_seed(4);
    torch::NoGradGuard no_grad;
    for (auto& p : head->parameters()) p.add_(torch::randn_like(p) * 0.05);
    for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = (i * 29 + i / 300) % 251;
  }
  FovSegPipeline Pipeline(std::vector<std::string> training_vocabulary = {},
                          FusionOptions fusion = {}, FovSegPipelineOptions options = {}) {
    return FovSegPipeline(classifier, torch::kCPU, PipelineInfo{}, generator, options,
                          DenseHeadRunner(head, SeenVocabulary(training_vocabulary), fusion));
  }
};

std::shared_ptr<const VocabularyEmbeddings> SeededVocabulary(int labels, int seed) {
  torch::manual_seed(seed);
  auto v = std::make_shared<VocabularyEmbeddings>();
  v->num_labels = labels;
  v->dim = 32;
  const torch::Tensor e =
      F::normalize(torch::randn({labels, 32}), F::NormalizeFuncOptions().dim(-1));
  v->data.assign(e.data_ptr<float>(), e.data_ptr<float>() + e.numel());
  return v;
}

PipelineRequest Request(const ImageRgb8& image, HeadMode mode, SegmentTask task, int labels,
                        int seed = 1) {
  PipelineRequest r;
  r.image = &image;
  r.vocabulary = SeededVocabulary(labels, seed);
  r.is_thing.assign(labels, true);
  r.task = task;
  r.head_mode = mode;
  r.params.score_threshold = 0.0f;
  r.params.max_segments = 100;
  return r;
}

std::map<int, float> ScoreByLabel(const PipelineResult& r) {
  std::map<int, float> s;
  for (const PipelineSegment& seg : r.segments) s[seg.label_index] = seg.score;
  return s;
}

TEST(FovSegHeadModesTest, ModesOfferedFollowTheDenseHead) {
  Fixture f;
  FovSegPipeline mask_only(f.classifier, torch::kCPU, PipelineInfo{}, f.generator);
  EXPECT_EQ(mask_only.Info().head_modes, std::vector<HeadMode>{HeadMode::kMask});
  for (HeadMode mode : {HeadMode::kDense, HeadMode::kFused}) {
    const auto out = mask_only.Run({Request(f.image, mode, SegmentTask::kSemantic, 3)});
    EXPECT_EQ(out[0].status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(std::string(out[0].status().message()).find("FGAseg dense head"), std::string::npos)
        << out[0].status();
  }
  // The default is MASK without the head...
  const auto by_default =
      mask_only.Run({Request(f.image, HeadMode::kDefault, SegmentTask::kSemantic, 3)});
  ASSERT_TRUE(by_default[0].ok()) << by_default[0].status();
  EXPECT_EQ(mask_only.stage_counts().dense_head, 0);

  // ... and FUSED with it.
  FovSegPipeline full = f.Pipeline();
  EXPECT_EQ(full.Info().head_modes,
            (std::vector<HeadMode>{HeadMode::kMask, HeadMode::kDense, HeadMode::kFused}));
  const auto fused_default =
      full.Run({Request(f.image, HeadMode::kDefault, SegmentTask::kPanoptic, 3)});
  ASSERT_TRUE(fused_default[0].ok()) << fused_default[0].status();
  EXPECT_EQ(full.stage_counts().dense_head, 1);
  EXPECT_EQ(full.stage_counts().mask_classifier, 1);

  // An operator's default (model.default_head_mode MASK) overrides it; a request's own
  // mode still wins.
  FovSegPipelineOptions mask_default;
  mask_default.default_mode = HeadMode::kMask;
  FovSegPipeline configured = f.Pipeline({}, {}, mask_default);
  ASSERT_TRUE(
      configured.Run({Request(f.image, HeadMode::kDefault, SegmentTask::kPanoptic, 3)})[0].ok());
  EXPECT_EQ(configured.stage_counts().dense_head, 0);
  EXPECT_EQ(configured.stage_counts().mask_classifier, 1);
  ASSERT_TRUE(
      configured.Run({Request(f.image, HeadMode::kFused, SegmentTask::kPanoptic, 3)})[0].ok());
  EXPECT_EQ(configured.stage_counts().dense_head, 1);
}

TEST(FovSegHeadModesTest, EachModeRunsOnlyWhatItNeeds) {
  Fixture f;
  FovSegPipeline pipeline = f.Pipeline();
  // DENSE: no proposals, no mask tokens; CLIP's image tokens and the head only.
  ASSERT_TRUE(
      pipeline.Run({Request(f.image, HeadMode::kDense, SegmentTask::kSemantic, 4)})[0].ok());
  FovSegPipeline::StageCounts c = pipeline.stage_counts();
  EXPECT_EQ(f.generator->images_, 0);
  EXPECT_EQ(c.generator, 0);
  EXPECT_EQ(c.mask_classifier, 0);
  EXPECT_EQ(c.image_tokens_only, 1);
  EXPECT_EQ(c.dense_head, 1);
  // MASK: no dense head.
  ASSERT_TRUE(pipeline.Run({Request(f.image, HeadMode::kMask, SegmentTask::kInstance, 4)})[0].ok());
  c = pipeline.stage_counts();
  EXPECT_EQ(c.generator, 1);
  EXPECT_EQ(c.mask_classifier, 1);
  EXPECT_EQ(c.dense_head, 1);
  // FUSED: one CLIP pass feeds both heads (no separate image-token pass).
  ASSERT_TRUE(
      pipeline.Run({Request(f.image, HeadMode::kFused, SegmentTask::kInstance, 4)})[0].ok());
  c = pipeline.stage_counts();
  EXPECT_EQ(c.generator, 2);
  EXPECT_EQ(c.mask_classifier, 2);
  EXPECT_EQ(c.image_tokens_only, 1);
  EXPECT_EQ(c.dense_head, 2);

  // DENSE answers semantic requests only, and has no use for regions.
  const auto panoptic =
      pipeline.Run({Request(f.image, HeadMode::kDense, SegmentTask::kPanoptic, 2)});
  EXPECT_EQ(panoptic[0].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(panoptic[0].status().message()).find("SEMANTIC"), std::string::npos);
  RegionMasks regions{1, kWidth, kHeight, std::vector<uint8_t>(kWidth * kHeight, 1)};
  PipelineRequest with_regions = Request(f.image, HeadMode::kDense, SegmentTask::kSemantic, 2);
  with_regions.regions = &regions;
  EXPECT_EQ(pipeline.Run({with_regions})[0].status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FovSegHeadModesTest, DenseModeIsTheHeadOnClipDenseFeatures) {
  Fixture f;
  FovSegPipeline pipeline = f.Pipeline();
  const PipelineRequest r = Request(f.image, HeadMode::kDense, SegmentTask::kSemantic, 5);
  const auto out = pipeline.Run({r});
  ASSERT_TRUE(out[0].ok()) << out[0].status();

  // By hand: plain CLIP's dense features (an untrained classifier's f_q is CLIP's own
  // query projection), the head, softmax over the classes, bilinear to the input.
  torch::NoGradGuard no_grad;
  const torch::Tensor normalised = ClipNormalize(f.image.pixels.data(), kWidth, kHeight);
  ClipVision visual = f.clip->visual;
  const ClipDenseFeatures features =
      ComputeClipDenseFeatures(visual, normalised, HeadConfig().guidance_layers);
  FgaSegInputs in;
  in.dense = features.dense;
  in.guidance = features.guidance;
  in.classes = torch::from_blob(const_cast<float*>(r.vocabulary->data.data()), {1, 5, 32});
  in.class_valid = torch::ones({1, 5}, torch::kBool);
  f.head->eval();
  const torch::Tensor probs = torch::softmax(f.head->forward(in).logits[0], 0);
  const torch::Tensor semantic =
      F::interpolate(probs.unsqueeze(0), F::InterpolateFuncOptions()
                                             .size(std::vector<int64_t>{kHeight, kWidth})
                                             .mode(torch::kBilinear)
                                             .align_corners(false))
          .squeeze(0);
  const PipelineResult expected = ToSemanticResult(semantic, r.is_thing, r.params);
  ASSERT_EQ(out[0]->segments.size(), expected.segments.size());
  EXPECT_GT(expected.segments.size(), 1u);  // a map worth comparing
  for (size_t i = 0; i < expected.segments.size(); ++i) {
    EXPECT_EQ(out[0]->segments[i].label_index, expected.segments[i].label_index);
    EXPECT_NEAR(out[0]->segments[i].score, expected.segments[i].score, 1e-4);
  }
  int differing = 0;
  for (size_t p = 0; p < expected.segment_id_map.size(); ++p) {
    differing += out[0]->segment_id_map[p] != expected.segment_id_map[p];
  }
  EXPECT_LE(differing, 2) << "pixels on near-ties may flip, no more";
}

// One region covering the whole image, instance task: each class's score is its fused
// probability times the region's mean mask probability, so the ensemble can be checked
// against MASK mode's probabilities and the dense head's image-wide mean, by hand.
TEST(FovSegHeadModesTest, FusedIsTheGeometricEnsembleWithSeenWeights) {
  Fixture f;
  FusionOptions fusion;
  fusion.seen_weight = 0.3;
  fusion.unseen_weight = 0.9;
  FovSegPipeline pipeline = f.Pipeline({"zebra", "Red  Car, automobile"}, fusion);
  RegionMasks regions{1, kWidth, kHeight, std::vector<uint8_t>(kWidth * kHeight, 1)};
  auto request = [&](HeadMode mode) {
    PipelineRequest r = Request(f.image, mode, SegmentTask::kInstance, 3);
    r.regions = &regions;
    r.label_keys = {"sky", "car,red car", "zebra"};  // unseen, seen (a synonym), seen
    return r;
  };
  const auto mask = pipeline.Run({request(HeadMode::kMask)});
  const auto fused = pipeline.Run({request(HeadMode::kFused)});
  ASSERT_TRUE(mask[0].ok() && fused[0].ok());
  const double inside = 1.0 / (1.0 + std::exp(-10.0));  // the region's mask probability
  std::map<int, float> p_mask = ScoreByLabel(*mask[0]);
  ASSERT_EQ(p_mask.size(), 3u);
  double p_void = 1;
  for (auto& [label, p] : p_mask) p_void -= p / inside;

  // The dense probabilities averaged over the image (the region covers it all).
  const PipelineRequest r = request(HeadMode::kFused);
  ClipVision visual = f.clip->visual;
  DenseHeadRunner runner(f.head, SeenVocabulary(), {});
  torch::NoGradGuard no_grad;
  const torch::Tensor normalised = ClipNormalize(f.image.pixels.data(), kWidth, kHeight);
  int64_t gh = 0, gw = 0;
  const std::vector<torch::Tensor> tokens =
      f.classifier->EncodeImageTokens(normalised, runner.TokenLayers(visual), &gh, &gw);
  const torch::Tensor dense =
      runner.ClassProbabilities(visual, tokens, gh, gw, {r.vocabulary.get()})[0].mean({1, 2});

  const std::vector<double> w = {0.9, 0.3, 0.3};
  std::vector<double> geometric(3);
  double total = 0;
  for (int c = 0; c < 3; ++c) {
    const double p_cls = p_mask[c] / inside / (1 - p_void);
    const double p_dense = dense[c].item<double>() / dense.sum().item<double>();
    geometric[c] = std::pow(p_cls, 1 - w[c]) * std::pow(p_dense, w[c]);
    ASSERT_GT(p_cls, 1e-4);  // far above fusion's 1e-8 floor, which the formula omits
    total += geometric[c];
  }
  const std::map<int, float> got = ScoreByLabel(*fused[0]);
  ASSERT_EQ(got.size(), 3u);
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(got.at(c), geometric[c] / total * (1 - p_void) * inside, 2e-4) << "class " << c;
  }
  // Fusion moved the scores: the test would not pass with MASK's.
  double moved = 0;
  for (int c = 0; c < 3; ++c) moved += std::abs(got.at(c) - p_mask[c]);
  EXPECT_GT(moved, 1e-3);
}

TEST(FovSegHeadModesTest, ABatchMixingModesAndVocabulariesAnswersAsSingles) {
  Fixture f;
  FovSegPipeline pipeline = f.Pipeline({"class 0"});
  std::vector<PipelineRequest> requests = {
      Request(f.image, HeadMode::kDense, SegmentTask::kSemantic, 4, 11),
      Request(f.image, HeadMode::kFused, SegmentTask::kPanoptic, 2, 12),
      Request(f.image, HeadMode::kMask, SegmentTask::kInstance, 6, 13),
      Request(f.image, HeadMode::kFused, SegmentTask::kSemantic, 9, 14),
  };
  const auto batched = pipeline.Run(requests);
  for (size_t i = 0; i < requests.size(); ++i) {
    ASSERT_TRUE(batched[i].ok()) << i << ": " << batched[i].status();
    const auto single = pipeline.Run({requests[i]});
    ASSERT_TRUE(single[0].ok());
    ASSERT_EQ(batched[i]->segments.size(), single[0]->segments.size()) << i;
    for (size_t s = 0; s < single[0]->segments.size(); ++s) {
      EXPECT_EQ(batched[i]->segments[s].label_index, single[0]->segments[s].label_index) << i;
      EXPECT_NEAR(batched[i]->segments[s].score, single[0]->segments[s].score, 1e-4) << i;
    }
  }
  // One classifier pass for the three mask-mode rows, one image-token pass for the dense
  // row, one head pass for the three dense-mode rows (plus the singles' passes).
  const FovSegPipeline::StageCounts c = pipeline.stage_counts();
  EXPECT_EQ(c.mask_classifier, 3 + 3);
  EXPECT_EQ(c.image_tokens_only, 1 + 1);
  EXPECT_EQ(c.dense_head, 3 + 3);
}

// bf16 on CPU, a first-class serving path: every mode runs, and DENSE's map agrees with
// fp32's almost everywhere.
TEST(FovSegHeadModesTest, EveryModeRunsInBf16) {
  Fixture fp32;
  const PipelineRequest dense = Request(fp32.image, HeadMode::kDense, SegmentTask::kSemantic, 4);
  const auto reference = fp32.Pipeline().Run({dense});
  ASSERT_TRUE(reference[0].ok());
  Fixture f;
  f.classifier->to(torch::kBFloat16);
  f.head->to(torch::kBFloat16);
  FovSegPipeline pipeline = f.Pipeline({"class 1"});
  PipelineRequest bf16_dense = dense;
  bf16_dense.image = &f.image;
  const auto out =
      pipeline.Run({bf16_dense, Request(f.image, HeadMode::kFused, SegmentTask::kPanoptic, 3),
                    Request(f.image, HeadMode::kMask, SegmentTask::kInstance, 3)});
  for (const auto& r : out) ASSERT_TRUE(r.ok()) << r.status();
  const auto& a = reference[0]->segment_id_map;
  std::map<int, int> label_of_id_a, label_of_id_b;
  for (size_t i = 0; i < reference[0]->segments.size(); ++i) {
    label_of_id_a[i + 1] = reference[0]->segments[i].label_index;
  }
  for (size_t i = 0; i < out[0]->segments.size(); ++i) {
    label_of_id_b[i + 1] = out[0]->segments[i].label_index;
  }
  size_t same = 0;
  for (size_t p = 0; p < a.size(); ++p) {
    same += label_of_id_a[a[p]] == label_of_id_b[out[0]->segment_id_map[p]];
  }
  EXPECT_GT(static_cast<double>(same) / a.size(), 0.9);
}

}  // namespace
}  // namespace ovseg
