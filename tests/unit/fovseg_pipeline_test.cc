// FovSegPipeline with a fake mask generator: requests without regions use the generator's
// most object-like proposals, requests with regions use theirs, in one batch.
#include "model/serving/fovseg_pipeline.h"

#include <gtest/gtest.h>

namespace ovseg {
namespace {

// Test double: N proposals at stride 4, proposal i covering column band i, objectness
// decreasing with i. Records what it was asked.
class FakeMaskGenerator : public MaskGenerator {
 public:
  explicit FakeMaskGenerator(int n) : n_(n) {}
  std::vector<MaskProposals> Generate(const torch::Tensor& images) override {
    calls_ += 1;
    images_seen_ += images.size(0);
    std::vector<MaskProposals> out;
    const int64_t h = images.size(2) / 4, w = images.size(3) / 4;
    for (int64_t b = 0; b < images.size(0); ++b) {
      torch::Tensor logits = torch::full({n_, h, w}, -8.0f);
      for (int i = 0; i < n_; ++i) logits[i].narrow(1, i * w / n_, w / n_).fill_(8.0f);
      out.push_back({logits, torch::linspace(1.0, 0.1, n_)});
    }
    return out;
  }
  int64_t stride() const override { return 4; }
  std::string name() const override { return "fake"; }
  int calls_ = 0;
  int64_t images_seen_ = 0;

 private:
  int n_;
};

MaskClassifier TinyClassifier() {
  torch::manual_seed(2);
  ClipConfig c;
  c.vision = {64, 1, 1, 16, 64};
  c.text = {64, 1, 1, 16, 512};
  c.embed_dim = 32;
  ClipModel clip(c);
  return MaskClassifier(clip->visual, 32, MaskClassifierConfig{});
}

std::shared_ptr<const VocabularyEmbeddings> Vocabulary(int labels) {
  auto v = std::make_shared<VocabularyEmbeddings>();
  v->num_labels = labels;
  v->dim = 32;
  const torch::Tensor e = torch::nn::functional::normalize(
      torch::randn({labels, 32}), torch::nn::functional::NormalizeFuncOptions().dim(-1));
  v->data.assign(e.data_ptr<float>(), e.data_ptr<float>() + e.numel());
  return v;
}

TEST(FovSegPipelineTest, GeneratorProposalsAndClientRegionsInOneBatch) {
  auto generator = std::make_shared<FakeMaskGenerator>(6);
  FovSegPipeline pipeline(TinyClassifier(), torch::kCPU, PipelineInfo{}, generator,
                          /*max_proposals=*/4);
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

}  // namespace
}  // namespace ovseg
