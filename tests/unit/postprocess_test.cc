// MaskFormer inference on hand-built proposals with hand-computed answers.
#include "model/maskformer/postprocess.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ovseg {
namespace {

// Class logits whose softmax is exactly `probs` (rows sum to 1).
torch::Tensor LogitsOf(std::vector<std::vector<float>> probs) {
  std::vector<torch::Tensor> rows;
  for (auto& p : probs) rows.push_back(torch::log(torch::tensor(p)));
  return torch::stack(rows);
}

torch::Tensor Masks(std::vector<std::vector<float>> logits, int64_t h, int64_t w) {
  std::vector<torch::Tensor> rows;
  for (auto& l : logits) rows.push_back(torch::tensor(l).view({h, w}));
  return torch::stack(rows);
}

TEST(PostprocessTest, SemanticSumsClassTimesMaskProbabilities) {
  const torch::Tensor cls = LogitsOf({{0.6f, 0.3f, 0.1f}, {0.2f, 0.7f, 0.1f}});
  const torch::Tensor masks = Masks({{20, -20}, {0, 20}}, 1, 2);  // [1, 0] and [0.5, 1]
  const torch::Tensor s = SemanticInference(cls, masks);
  ASSERT_EQ(s.sizes(), (std::vector<int64_t>{2, 1, 2}));
  EXPECT_NEAR(s[0][0][0].item<float>(), 0.6 * 1 + 0.2 * 0.5, 1e-6);
  EXPECT_NEAR(s[1][0][0].item<float>(), 0.3 * 1 + 0.7 * 0.5, 1e-6);
  EXPECT_NEAR(s[0][0][1].item<float>(), 0.2, 1e-6);
  EXPECT_NEAR(s[1][0][1].item<float>(), 0.7, 1e-6);

  PostprocessParams params;
  params.score_threshold = 0.0f;
  PipelineResult r = ToSemanticResult(s, {true, false}, params);
  ASSERT_EQ(r.segments.size(), 2u);
  // Pixel 1 -> class 1 with share 0.7 / 0.9; pixel 0 -> class 0 with share 0.7 / 1.35.
  EXPECT_EQ(r.segments[0].label_index, 1);
  EXPECT_NEAR(r.segments[0].score, 0.7 / 0.9, 1e-6);
  EXPECT_FALSE(r.segments[0].is_thing);
  EXPECT_EQ(r.segments[1].label_index, 0);
  EXPECT_NEAR(r.segments[1].score, 0.7 / 1.35, 1e-6);
  EXPECT_EQ(r.segment_id_map, (std::vector<int32_t>{2, 1}));
  params.score_threshold = 0.6f;  // Drops class 0: its pixel becomes "none".
  r = ToSemanticResult(s, {true, false}, params);
  ASSERT_EQ(r.segments.size(), 1u);
  EXPECT_EQ(r.segment_id_map, (std::vector<int32_t>{0, 1}));
  params.score_threshold = 0.0f;
  params.max_segments = 1;
  EXPECT_EQ(ToSemanticResult(s, {true, false}, params).segments.size(), 1u);
}

TEST(PostprocessTest, PanopticKeepsConfidentMasksAndMergesStuff) {
  // Class 0 is a thing, class 1 stuff; the last column is void.
  const torch::Tensor cls = LogitsOf({{0.9f, 0.05f, 0.05f},  // thing, kept
                                      {0.05f, 0.85f, 0.1f},  // stuff, kept
                                      {0.05f, 0.9f, 0.05f},  // same stuff, merged
                                      {0.1f, 0.1f, 0.8f},    // void: dropped
                                      {0.5f, 0.3f, 0.2f}});  // below 0.8: dropped
  const torch::Tensor masks = Masks({{20, 20, -20, -20},
                                     {-20, -20, 20, -20},
                                     {-20, -20, -20, 20},
                                     {20, 20, 20, 20},
                                     {20, 20, 20, 20}},
                                    1, 4);
  const PanopticOutput p = PanopticInference(cls, masks, {true, false}, 0.8f, 0.8f);
  const torch::Tensor expected = torch::tensor({1, 1, 2, 2}, torch::kInt32).view({1, 4});
  EXPECT_TRUE(torch::equal(p.segment_map, expected)) << p.segment_map;
  ASSERT_EQ(p.segments.size(), 2u);
  EXPECT_EQ(p.segments[0].label, 0);
  EXPECT_TRUE(p.segments[0].is_thing);
  EXPECT_NEAR(p.segments[0].score, 0.9, 1e-6);
  EXPECT_EQ(p.segments[1].label, 1);
  EXPECT_FALSE(p.segments[1].is_thing);
  EXPECT_NEAR(p.segments[1].score, 0.9, 1e-6);  // Best of the merged parts.

  PostprocessParams params;
  params.score_threshold = 0.0f;
  const PipelineResult r = ToPanopticResult(p, params);
  EXPECT_EQ(r.segment_id_map, (std::vector<int32_t>{1, 1, 2, 2}));
  ASSERT_EQ(r.segments.size(), 2u);
}

TEST(PostprocessTest, PanopticOverlapThresholdDropsMostlyHiddenMasks) {
  // A (0.9) covers all 4 pixels; B (0.95) covers pixel 0 and wins it. A keeps 3 of its 4
  // pixels: 0.75 < 0.8 drops it, 0.75 >= 0.7 keeps it.
  const torch::Tensor cls = LogitsOf({{0.9f, 0.05f, 0.05f}, {0.95f, 0.03f, 0.02f}});
  const torch::Tensor masks = Masks({{20, 20, 20, 20}, {20, -20, -20, -20}}, 2, 2);
  PanopticOutput p = PanopticInference(cls, masks, {true, true}, 0.8f, 0.8f);
  EXPECT_TRUE(torch::equal(p.segment_map, torch::tensor({1, 0, 0, 0}, torch::kInt32).view({2, 2})));
  p = PanopticInference(cls, masks, {true, true}, 0.8f, 0.7f);
  EXPECT_TRUE(torch::equal(p.segment_map, torch::tensor({2, 1, 1, 1}, torch::kInt32).view({2, 2})));
  // Nothing confident: an empty map.
  p = PanopticInference(cls, masks, {true, true}, 0.99f, 0.8f);
  EXPECT_TRUE(p.segments.empty());
  EXPECT_EQ(p.segment_map.sum().item<int>(), 0);
}

TEST(PostprocessTest, InstanceTopKPairsScoredByMaskConfidence) {
  const torch::Tensor cls = LogitsOf({{0.6f, 0.3f, 0.1f}, {0.2f, 0.7f, 0.1f}});
  const torch::Tensor masks = Masks({{20, 0.5f, -20, -20}, {-20, 20, 20, 20}}, 2, 2);
  const InstanceOutput inst = InstanceInference(cls, masks, 3);
  ASSERT_EQ(inst.labels.size(), 3u);
  const double mean0 = (1.0 + 1.0 / (1.0 + std::exp(-0.5))) / 2.0;  // Pixels with logit > 0.
  EXPECT_EQ(inst.labels[0], 1);
  EXPECT_NEAR(inst.scores[0], 0.7, 1e-5);
  EXPECT_EQ(inst.labels[1], 0);
  EXPECT_NEAR(inst.scores[1], 0.6 * mean0, 1e-5);
  EXPECT_EQ(inst.labels[2], 1);
  EXPECT_NEAR(inst.scores[2], 0.3 * mean0, 1e-5);

  PostprocessParams params;
  params.score_threshold = 0.3f;
  const PipelineResult r = ToInstanceResult(inst, {true, true}, params);
  ASSERT_EQ(r.segments.size(), 2u);
  EXPECT_TRUE(r.segment_id_map.empty());
  EXPECT_EQ(r.segments[0].soft_mask, (std::vector<uint8_t>{0, 255, 255, 255}));
  EXPECT_EQ(r.width, 2);
}

}  // namespace
}  // namespace ovseg
