// FovSegPipeline with a fake mask generator: requests without regions use the generator's
// most object-like proposals, requests with regions use theirs, in one batch.
#include "model/serving/fovseg_pipeline.h"

#include <gtest/gtest.h>

#include "model/clip/clip_preprocess.h"
#include "model/teva/crop_classifier.h"
#include "tests/fakes/fake_pipeline_parts.h"

namespace ovseg {
namespace {

using testing::FakeMaskGenerator;
using testing::TinyClassifier;

std::shared_ptr<const VocabularyEmbeddings> Vocabulary(int labels, std::string key = "") {
  auto v = std::make_shared<VocabularyEmbeddings>();
  v->key = std::move(key);
  v->num_labels = labels;
  v->dim = 32;
  const torch::Tensor e = torch::nn::functional::normalize(
      torch::randn({labels, 32}), torch::nn::functional::NormalizeFuncOptions().dim(-1));
  v->data.assign(e.data_ptr<float>(), e.data_ptr<float>() + e.numel());
  return v;
}

TEST(FovSegPipelineTest, GeneratorProposalsAndClientRegionsInOneBatch) {
  auto generator = std::make_shared<FakeMaskGenerator>(6);
  FovSegPipelineOptions options;
  options.max_proposals = 4;
  FovSegPipeline pipeline(TinyClassifier(), torch::kCPU, PipelineInfo{}, generator, options);
  EXPECT_TRUE(pipeline.Info().generates_masks);
  ImageRgb8 image{64, 64, PixelBuffer(64 * 64 * 3, 90)};
  RegionMasks regions{1, 64, 64, std::vector<uint8_t>(64 * 64, 1)};
  PipelineRequest generated;
  generated.image = &image;
  generated.vocabulary = Vocabulary(3);
  generated.is_thing = {true, true, false};
  generated.task = SegmentTask::kInstance;
  generated.params.score_threshold = 0.0f;
  generated.params.max_segments = 100;
  PipelineRequest with_regions = generated;
  with_regions.regions = &regions;
  with_regions.vocabulary = Vocabulary(5);
  with_regions.is_thing.assign(5, true);
  const std::vector<absl::StatusOr<PipelineResult>> out = pipeline.Run({generated, with_regions});
  ASSERT_TRUE(out[0].ok()) << out[0].status();
  ASSERT_TRUE(out[1].ok()) << out[1].status();
  EXPECT_EQ(generator->calls_, 1);
  EXPECT_EQ(generator->images_seen_, 1);  // Only the request without regions.
  // Instance pairs: at most 4 kept proposals x 3 classes; one region x 5 classes.
  EXPECT_LE(out[0]->segments.size(), 12u);
  EXPECT_GT(out[0]->segments.size(), 0u);
  EXPECT_EQ(out[1]->segments.size(), 5u);
  // Generated masks are upsampled to the bucket resolution.
  EXPECT_EQ(out[0]->segments[0].soft_mask.size(), 64u * 64);
}

// An image that fills only the top-left 64 x 40 of its 64 x 64 bucket (its aspect kept,
// the rest padding): every task's result covers that corner and nothing of the padding,
// and a content size outside the image is refused.
TEST(FovSegPipelineTest, ResultsCoverTheImagesPartOfTheBucketOnly) {
  auto generator = std::make_shared<FakeMaskGenerator>(6);
  FovSegPipeline pipeline(TinyClassifier(), torch::kCPU, PipelineInfo{}, generator, {});
  ImageRgb8 image{64, 64, PixelBuffer(64 * 64 * 3, 90)};
  PipelineRequest r;
  r.image = &image;
  r.content_width = 64;
  r.content_height = 40;
  r.vocabulary = Vocabulary(3);
  r.is_thing = {true, true, false};
  r.params.score_threshold = 0.0f;
  r.params.max_segments = 100;
  for (SegmentTask task : {SegmentTask::kSemantic, SegmentTask::kPanoptic, SegmentTask::kInstance,
                           SegmentTask::kProposals}) {
    r.task = task;
    const std::vector<absl::StatusOr<PipelineResult>> out = pipeline.Run({r});
    ASSERT_TRUE(out[0].ok()) << out[0].status();
    EXPECT_EQ(out[0]->width, 64);
    EXPECT_EQ(out[0]->height, 40);
    if (!out[0]->segment_id_map.empty()) {
      EXPECT_EQ(out[0]->segment_id_map.size(), 64u * 40);
    }
    for (const PipelineSegment& s : out[0]->segments) {
      if (!s.soft_mask.empty()) {
        EXPECT_EQ(s.soft_mask.size(), 64u * 40);
      }
    }
  }
  // Client regions are cut the same way.
  RegionMasks regions{1, 64, 64, std::vector<uint8_t>(64 * 64, 1)};
  r.regions = &regions;
  r.task = SegmentTask::kSemantic;
  const std::vector<absl::StatusOr<PipelineResult>> with_regions = pipeline.Run({r});
  ASSERT_TRUE(with_regions[0].ok()) << with_regions[0].status();
  EXPECT_EQ(with_regions[0]->segment_id_map.size(), 64u * 40);
  r.content_height = 65;
  const std::vector<absl::StatusOr<PipelineResult>> refused = pipeline.Run({r});
  EXPECT_EQ(refused[0].status().message(), "pipeline: content 64x65 outside the 64x64 image");
}

// A generator whose device runs out of memory once, as CUDA's caching allocator reports it.
class OutOfMemoryOnceGenerator : public FakeMaskGenerator {
 public:
  OutOfMemoryOnceGenerator() : FakeMaskGenerator(4) {}
  std::vector<MaskProposals> Generate(const torch::Tensor& images) override {
    if (!failed_) {
      failed_ = true;
      TORCH_CHECK_WITH(OutOfMemoryError, false,
                       "CUDA out of memory. Tried to allocate 2.00 GiB (fake)");
    }
    return FakeMaskGenerator::Generate(images);
  }

 private:
  bool failed_ = false;
};

TEST(FovSegPipelineTest, DeviceOutOfMemoryFailsThatBatchOnlyAsResourceExhausted) {
  FovSegPipeline pipeline(TinyClassifier(), torch::kCPU, PipelineInfo{},
                          std::make_shared<OutOfMemoryOnceGenerator>(), FovSegPipelineOptions{});
  ImageRgb8 image{64, 64, PixelBuffer(64 * 64 * 3, 90)};
  PipelineRequest request;
  request.image = &image;
  request.vocabulary = Vocabulary(3);
  request.is_thing = {true, true, false};
  request.task = SegmentTask::kSemantic;
  std::vector<absl::StatusOr<PipelineResult>> out = pipeline.Run({request, request});
  ASSERT_EQ(out.size(), 2u);
  for (const auto& r : out) {
    EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
    EXPECT_NE(r.status().message().find("out of device memory"), std::string::npos);
  }
  out = pipeline.Run({request});
  EXPECT_TRUE(out[0].ok()) << out[0].status();  // the next batch is served
}

TEST(FovSegPipelineTest, ProposalsTaskReturnsTheGeneratorsMasksByObjectness) {
  auto generator = std::make_shared<FakeMaskGenerator>(6);
  FovSegPipelineOptions options;
  options.max_proposals = 5;
  FovSegPipeline pipeline(TinyClassifier(), torch::kCPU, PipelineInfo{}, generator, options);
  ImageRgb8 image{64, 64, PixelBuffer(64 * 64 * 3, 90)};
  PipelineRequest r;
  r.image = &image;
  r.vocabulary = Vocabulary(3);
  r.is_thing = {true, true, false};
  r.task = SegmentTask::kProposals;
  r.head_mode = HeadMode::kMask;
  r.params.score_threshold = 0.0f;
  r.params.max_segments = 100;
  std::vector<absl::StatusOr<PipelineResult>> out = pipeline.Run({r});
  ASSERT_TRUE(out[0].ok()) << out[0].status();
  // The best 5 of 6 by objectness (1.0, 0.82, ...), each once, score = objectness, mask =
  // its column band (upsampled).
  ASSERT_EQ(out[0]->segments.size(), 5u);
  const torch::Tensor objectness = torch::linspace(1.0, 0.1, 6);
  for (int i = 0; i < 5; ++i) {
    const PipelineSegment& s = out[0]->segments[static_cast<size_t>(i)];
    EXPECT_NEAR(s.score, objectness[i].item<float>(), 1e-6) << i;
    EXPECT_GE(s.label_index, 0);
    EXPECT_LT(s.label_index, 3);
    const int band = 64 / 6, middle = i * band + band / 2;
    EXPECT_GT(s.soft_mask[static_cast<size_t>(32 * 64 + middle)], 200) << i;  // inside
    EXPECT_LT(s.soft_mask[static_cast<size_t>(32 * 64 + (middle + 32) % 64)], 50) << i;
  }
  // max_segments caps them; regions are refused (they bypass the generator).
  r.params.max_segments = 2;
  out = pipeline.Run({r});
  ASSERT_TRUE(out[0].ok());
  EXPECT_EQ(out[0]->segments.size(), 2u);
  RegionMasks regions{1, 64, 64, std::vector<uint8_t>(64 * 64, 1)};
  r.regions = &regions;
  out = pipeline.Run({r});
  EXPECT_EQ(out[0].status().code(), absl::StatusCode::kInvalidArgument);
  FovSegPipeline no_generator(TinyClassifier(), torch::kCPU, PipelineInfo{}, nullptr, options);
  r.regions = nullptr;
  out = no_generator.Run({r});
  EXPECT_EQ(out[0].status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(FovSegPipelineTest, ClassifierReadsProposalsAsTrainingFeedsThem) {
  // The generator's stride-4 logits, upsampled to the image and max-pooled back: what the
  // server hands the classifier and what fovseg training feeds it (fovseg_stage.cc).
  torch::Tensor logits = torch::full({2, 8, 8}, -6.0f);
  logits[0][3][4] = 6.0f;                 // one cell inside
  logits[1].narrow(1, 0, 4).fill_(6.0f);  // the left half
  const torch::Tensor full = UpsampleProposals(logits, 32, 32);
  EXPECT_EQ(full.sizes(), (std::vector<int64_t>{2, 32, 32}));
  const torch::Tensor input = ClassifierProposalInput(full);
  EXPECT_EQ(input.sizes(), (std::vector<int64_t>{2, 8, 8}));
  // Every cell inside at stride 4 stays inside (max pooling keeps "a patch is visible iff
  // the mask has a pixel in it"); the far cells stay outside.
  EXPECT_TRUE(((input > 0) | (logits <= 0)).all().item<bool>());
  EXPECT_GT(input[0][3][4].item<float>(), 0.0f);
  EXPECT_LT(input[0][0][0].item<float>(), 0.0f);
  EXPECT_LT(input[1][0][7].item<float>(), 0.0f);
}

// A classifier whose TeVA is no longer the identity, so wrong keys or values would show.
MaskClassifier TrainedLookingClassifier() {
  MaskClassifier classifier = TinyClassifier();
  torch::NoGradGuard no_grad;
  auto groups = classifier->ParameterGroups();  // Outlives the loop.
  for (auto& p : groups["teva"]) p.normal_(0, 0.2);
  return classifier;
}

std::vector<float> Scores(const PipelineResult& r) {
  std::vector<float> s;
  for (const auto& seg : r.segments) s.push_back(seg.score);
  return s;
}

TEST(FovSegPipelineTest, TevaTargetsAreCachedPerVocabularyAndBatchesMatchSingles) {
  FovSegPipeline pipeline(TrainedLookingClassifier(), torch::kCPU, PipelineInfo{});
  ImageRgb8 image{64, 64, PixelBuffer(64 * 64 * 3, 90)};
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = (i * 37) % 251;
  RegionMasks regions{3, 64, 64, std::vector<uint8_t>(3 * 64 * 64, 0)};
  for (int k = 0; k < 3; ++k) std::fill_n(regions.data.begin() + k * 64 * 64 + k * 1000, 1500, 1);
  auto request = [&](std::shared_ptr<const VocabularyEmbeddings> v) {
    PipelineRequest r;
    r.image = &image;
    r.regions = &regions;
    r.vocabulary = std::move(v);
    r.is_thing.assign(r.vocabulary->num_labels, true);
    r.task = SegmentTask::kInstance;
    r.params.score_threshold = 0.0f;
    return r;
  };
  const PipelineRequest small = request(Vocabulary(3, "small"));
  const PipelineRequest large = request(Vocabulary(40, "large"));
  const auto alone_small = pipeline.Run({small});
  const auto alone_large = pipeline.Run({large});
  ASSERT_TRUE(alone_small[0].ok() && alone_large[0].ok());
  EXPECT_EQ(pipeline.teva_cache_stats().misses, 2);
  EXPECT_EQ(pipeline.teva_cache_stats().entries, 2);
  // Mixed vocabularies in one batch (padded) and a repeated one (expanded): same answers,
  // and no new projections.
  const auto mixed = pipeline.Run({large, small, small});
  EXPECT_EQ(pipeline.teva_cache_stats().misses, 2);
  EXPECT_EQ(pipeline.teva_cache_stats().hits, 3);
  for (int k = 0; k < 3; ++k) ASSERT_TRUE(mixed[k].ok()) << mixed[k].status();
  const std::vector<float> expect_large = Scores(*alone_large[0]);
  const std::vector<float> expect_small = Scores(*alone_small[0]);
  const std::vector<float> got_large = Scores(*mixed[0]);
  ASSERT_EQ(got_large.size(), expect_large.size());
  for (size_t i = 0; i < got_large.size(); ++i) EXPECT_NEAR(got_large[i], expect_large[i], 1e-5);
  for (int k : {1, 2}) {
    const std::vector<float> got = Scores(*mixed[k]);
    ASSERT_EQ(got.size(), expect_small.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expect_small[i], 1e-5);
  }
}

TEST(FovSegPipelineTest, WithoutGeneratorRegionsAreRequired) {
  FovSegPipeline pipeline(TinyClassifier(), torch::kCPU, PipelineInfo{});
  EXPECT_FALSE(pipeline.Info().generates_masks);
  ImageRgb8 image{64, 64, PixelBuffer(64 * 64 * 3, 90)};
  PipelineRequest r;
  r.image = &image;
  r.vocabulary = Vocabulary(2);
  r.is_thing = {true, true};
  const auto out = pipeline.Run({r});
  EXPECT_EQ(out[0].status().code(), absl::StatusCode::kFailedPrecondition);
}

// With objectness_weight 1 a generated proposal's mass on the classes is the generator's
// objectness (model/teva/objectness_ensemble.h): the fake's two proposals score 1.0 and
// 0.1, so their instance scores summed over the classes stand 10 : 1.
TEST(FovSegPipelineTest, ObjectnessWeightTakesVoidFromTheGenerator) {
  ImageRgb8 image{64, 64, PixelBuffer(64 * 64 * 3, 90)};
  PipelineRequest r;
  r.image = &image;
  r.vocabulary = Vocabulary(3);
  r.is_thing.assign(3, true);
  r.task = SegmentTask::kInstance;
  r.params.score_threshold = 0.0f;
  r.params.max_segments = 100;
  auto mass_ratio = [&](double weight) {
    FovSegPipelineOptions options;
    options.max_proposals = 2;
    options.objectness_weight = weight;
    FovSegPipeline pipeline(TinyClassifier(), torch::kCPU, PipelineInfo{},
                            std::make_shared<FakeMaskGenerator>(2), options);
    const auto out = pipeline.Run({r});
    EXPECT_TRUE(out[0].ok()) << out[0].status();
    double left = 0, right = 0;  // proposal 0 covers the left half, proposal 1 the right
    for (const PipelineSegment& s : out[0]->segments) {
      (s.soft_mask[static_cast<size_t>(32 * 64 + 8)] > 128 ? left : right) += s.score;
    }
    return right / left;
  };
  EXPECT_NEAR(mass_ratio(1.0), 0.1, 0.005);
  EXPECT_GT(std::abs(mass_ratio(0.0) - 0.1), 0.05);
}

// Helpers of the crop tests: a noise image, an INSTANCE request over 4 thing labels (every
// segment answered), and the class distribution of a one-proposal answer: instance scores
// of one proposal are p(label) x its mask score, so their ratios are the distribution
// (peaked: temperature 100; the ensemble floors probabilities at 1e-8, hence the absolute
// tolerances below).
ImageRgb8 NoiseImage(uint64_t seed) {
  torch::manual_seed(seed);
  const torch::Tensor noise = torch::randint(0, 256, {64 * 64 * 3}, torch::kUInt8);
  return ImageRgb8{
      64, 64, PixelBuffer(noise.data_ptr<uint8_t>(), noise.data_ptr<uint8_t>() + noise.numel())};
}

PipelineRequest InstanceRequest(const ImageRgb8& image) {
  PipelineRequest r;
  r.image = &image;
  r.vocabulary = Vocabulary(4);
  r.is_thing.assign(4, true);
  r.task = SegmentTask::kInstance;
  r.params.score_threshold = 0.0f;
  r.params.max_segments = 100;
  return r;
}

torch::Tensor ClassDistribution(const PipelineResult& result) {
  torch::Tensor p = torch::zeros({4});
  for (const PipelineSegment& s : result.segments) p[s.label_index] += s.score;
  return p / p.sum();
}

// What TinyClassifier's CLIP answers on the masked crops of `mask_logits` [1, 64, 64].
torch::Tensor ClipOnCrops(const PipelineRequest& r, const torch::Tensor& mask_logits,
                          double component_fraction) {
  torch::InferenceMode inference;
  const torch::Tensor pixels = ClipNormalize(r.image->pixels.data(), 64, 64)[0];
  const torch::Tensor crops = MaskedCrops(pixels, mask_logits, 64, nullptr, component_fraction);
  const torch::Tensor classes =
      torch::from_blob(const_cast<float*>(r.vocabulary->data.data()), {4, 32}).clone();
  MaskClassifier classifier = TinyClassifier();
  return torch::softmax(CropClassLogits(classifier->clip, crops, classes, 100.0), -1)[0];
}

// With crop_ensemble_weight 1 the classes of a region are CLIP's on its masked crop (void
// stays the mask classifier's); with 0 no crop is classified.
TEST(FovSegPipelineTest, CropEnsembleNamesRegionsFromTheirMaskedCrops) {
  const ImageRgb8 image = NoiseImage(11);
  RegionMasks regions{1, 64, 64, std::vector<uint8_t>(64 * 64, 0)};
  for (int y = 10; y < 30; ++y) {
    for (int x = 20; x < 50; ++x) regions.data[static_cast<size_t>(y) * 64 + x] = 1;
  }
  PipelineRequest r = InstanceRequest(image);
  r.regions = &regions;
  FovSegPipelineOptions crops_only;
  crops_only.crop_ensemble_weight = 1.0;
  crops_only.crop_size = 64;
  FovSegPipeline with_crops(TinyClassifier(), torch::kCPU, PipelineInfo{}, nullptr, crops_only);
  const auto out = with_crops.Run({r});
  ASSERT_TRUE(out[0].ok()) << out[0].status();
  EXPECT_EQ(with_crops.stage_counts().crops, 1);
  const torch::Tensor expected = ClipOnCrops(r, RegionLogits(regions), 0.0);
  EXPECT_TRUE(torch::allclose(ClassDistribution(*out[0]), expected, 1e-2, 1e-7))
      << ClassDistribution(*out[0]) << expected;

  FovSegPipeline without(TinyClassifier(), torch::kCPU, PipelineInfo{});
  const auto plain = without.Run({r});
  ASSERT_TRUE(plain[0].ok()) << plain[0].status();
  EXPECT_EQ(without.stage_counts().crops, 0);
  EXPECT_FALSE(torch::allclose(ClassDistribution(*plain[0]), expected, 1e-2, 1e-7))
      << ClassDistribution(*plain[0]) << expected;
}

// One proposal: a block and, far from it, a fleck (both at the generator's stride 4).
std::shared_ptr<MaskGenerator> FleckedProposalGenerator() {
  return std::make_shared<testing::BlocksProposalGenerator>(
      std::vector<testing::CellBlock>{{2, 8, 2, 8}, {13, 15, 13, 15}}, 1.0f);
}

// crop_component_fraction: a generated proposal's crop leaves out its stray component,
// a client region is cropped as sent.
TEST(FovSegPipelineTest, GeneratedProposalsAreCroppedWithoutTheirStrayComponents) {
  const ImageRgb8 image = NoiseImage(12);
  PipelineRequest r = InstanceRequest(image);
  FovSegPipelineOptions options;
  options.crop_ensemble_weight = 1.0;
  options.crop_size = 64;
  options.crop_component_fraction = 1.0;
  FovSegPipeline pipeline(TinyClassifier(), torch::kCPU, PipelineInfo{}, FleckedProposalGenerator(),
                          options);

  const auto generated = pipeline.Run({r});
  ASSERT_TRUE(generated[0].ok()) << generated[0].status();
  torch::Tensor proposal;
  {
    torch::InferenceMode inference;
    proposal = UpsampleProposals(
        FleckedProposalGenerator()->Generate(torch::zeros({1, 3, 64, 64})).at(0).logits, 64, 64);
  }
  const torch::Tensor cleaned = ClipOnCrops(r, proposal, 1.0);
  const torch::Tensor as_is = ClipOnCrops(r, proposal, 0.0);
  ASSERT_FALSE(torch::allclose(cleaned, as_is, 1e-2, 1e-7)) << "the fleck changes nothing here";
  EXPECT_TRUE(torch::allclose(ClassDistribution(*generated[0]), cleaned, 1e-2, 1e-7))
      << ClassDistribution(*generated[0]) << cleaned;

  // The same pixels sent as a client region keep their fleck.
  RegionMasks regions{1, 64, 64, std::vector<uint8_t>(64 * 64, 0)};
  const torch::Tensor inside = (proposal[0] > 0).to(torch::kUInt8).contiguous();
  std::copy(inside.data_ptr<uint8_t>(), inside.data_ptr<uint8_t>() + 64 * 64, regions.data.begin());
  r.regions = &regions;
  const auto sent = pipeline.Run({r});
  ASSERT_TRUE(sent[0].ok()) << sent[0].status();
  EXPECT_TRUE(torch::allclose(ClassDistribution(*sent[0]),
                              ClipOnCrops(r, RegionLogits(regions), 0.0), 1e-2, 1e-7))
      << ClassDistribution(*sent[0]);
}

}  // namespace
}  // namespace ovseg
