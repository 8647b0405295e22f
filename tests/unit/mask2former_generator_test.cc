// Mask2Former as a mask generator (objectness, top-k, padding and cropping, upsampling),
// deformable attention against a naive per-point loop, and the tiny configs learning on
// CPU: a few optimiser steps on synthetic shapes must cut the class-agnostic loss.
#include "model/mask2former/mask2former_generator.h"

#include <gtest/gtest.h>

#include <cmath>

#include "model/mask2former/deformable_attention.h"
#include "model/mask2former/mask2former_loss.h"
#include "tests/fakes/synthetic_shapes.h"

namespace ovseg {
namespace {

TEST(Mask2FormerGeneratorTest, ObjectnessIsOneMinusVoidProbability) {
  const torch::Tensor logits = torch::tensor({{{2.0f, 0.0f, 1.0f}, {0.0f, 0.0f, 5.0f}}});
  const torch::Tensor o = Objectness(logits);
  const double z0 = std::exp(2.0) + 1 + std::exp(1.0);
  EXPECT_NEAR(o[0][0].item<double>(), 1 - std::exp(1.0) / z0, 1e-6);
  EXPECT_NEAR(o[0][1].item<double>(), 1 - std::exp(5.0) / (2 + std::exp(5.0)), 1e-6);
}

TEST(Mask2FormerGeneratorTest, PadsCropsAndRanksEveryQuery) {
  torch::manual_seed(1);
  Mask2Former model(Mask2FormerConfig::TinyResNet());
  model->eval();
  Mask2FormerGenerator generator(model);
  torch::NoGradGuard no_grad;
  const torch::Tensor images = torch::randn({2, 3, 100, 150});  // padded to 128 x 160 inside
  const std::vector<MaskProposals> p = generator.Generate(images);
  ASSERT_EQ(p.size(), 2u);
  for (const MaskProposals& m : p) {
    // Every one of the 50 queries, at 1/4 of the image (the cells holding its pixels).
    EXPECT_EQ(m.logits.sizes(), (std::vector<int64_t>{50, 25, 38}));
    ASSERT_EQ(m.objectness.size(0), 50);
    EXPECT_TRUE(
        torch::all(m.objectness.slice(0, 0, 49) >= m.objectness.slice(0, 1, 50)).item<bool>());
    EXPECT_TRUE(torch::all((m.objectness >= 0) & (m.objectness <= 1)).item<bool>());
  }
  // Ranked by objectness: the first is the best query of the model's own output.
  const MaskPrediction raw = model->forward(ClipToMask2FormerInput(images), false).back();
  EXPECT_FLOAT_EQ(Objectness(raw.class_logits)[0].max().item<float>(),
                  p[0].objectness[0].item<float>());
  // One image alone gives what it gave in the batch.
  const std::vector<MaskProposals> single = generator.Generate(images.narrow(0, 1, 1));
  EXPECT_TRUE(torch::allclose(single[0].logits, p[1].logits, 1e-4, 1e-4));
}

TEST(Mask2FormerGeneratorTest, RunsInBf16OnCpu) {
  torch::manual_seed(2);
  Mask2Former model(Mask2FormerConfig::TinySwin());
  model->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor images = torch::randn({1, 3, 96, 128});
  const MaskPrediction full = model->forward(images, false).back();
  model->to(torch::kBFloat16);
  const MaskPrediction half = model->forward(images.to(torch::kBFloat16), false).back();
  EXPECT_EQ(half.mask_logits.scalar_type(), torch::kBFloat16);
  const double cosine =
      torch::nn::functional::cosine_similarity(
          half.mask_logits.to(torch::kFloat32).flatten(), full.mask_logits.flatten(),
          torch::nn::functional::CosineSimilarityFuncOptions().dim(0))
          .item<double>();
  EXPECT_GT(cosine, 0.98);
}

// Bilinear sample of value [h, w] at normalised (x, y), align_corners=false, zeros outside.
double Bilinear(const torch::Tensor& value, double x, double y) {
  const int64_t h = value.size(0), w = value.size(1);
  const double px = x * w - 0.5, py = y * h - 0.5;
  const int64_t x0 = static_cast<int64_t>(std::floor(px)),
                y0 = static_cast<int64_t>(std::floor(py));
  double out = 0;
  for (int dy = 0; dy < 2; ++dy) {
    for (int dx = 0; dx < 2; ++dx) {
      const int64_t xi = x0 + dx, yi = y0 + dy;
      if (xi < 0 || yi < 0 || xi >= w || yi >= h) continue;
      const double wx = dx ? px - x0 : 1 - (px - x0), wy = dy ? py - y0 : 1 - (py - y0);
      out += wx * wy * value[yi][xi].item<double>();
    }
  }
  return out;
}

TEST(DeformableAttentionTest, EqualsANaivePerPointLoop) {
  torch::manual_seed(4);
  const LevelShapes shapes = {{4, 5}, {2, 3}};
  const int64_t b = 1, q = 3, heads = 2, d = 3, levels = 2, points = 2;
  const torch::Tensor value = torch::randn({b, 4 * 5 + 2 * 3, heads, d});
  const torch::Tensor locations = torch::rand({b, q, heads, levels, points, 2}) * 1.4 - 0.2;
  const torch::Tensor weights = torch::rand({b, q, heads, levels, points});
  for (DeformableSampling sampling : {DeformableSampling::kGridSample, DeformableSampling::kGather,
                                      DeformableSampling::kCpuKernel}) {
    const torch::Tensor out =
        MultiScaleDeformableAttention(value, shapes, locations, weights, sampling);
    ASSERT_EQ(out.sizes(), (std::vector<int64_t>{b, q, heads * d}));
    for (int64_t qi = 0; qi < q; ++qi) {
      for (int64_t h = 0; h < heads; ++h) {
        for (int64_t c = 0; c < d; ++c) {
          double expected = 0;
          int64_t start = 0;
          for (int64_t l = 0; l < levels; ++l) {
            const auto [lh, lw] = shapes[l];
            const torch::Tensor map =
                value[0].narrow(0, start, lh * lw).select(1, h).select(1, c).view({lh, lw});
            for (int64_t p = 0; p < points; ++p) {
              expected += weights[0][qi][h][l][p].item<double>() *
                          Bilinear(map, locations[0][qi][h][l][p][0].item<double>(),
                                   locations[0][qi][h][l][p][1].item<double>());
            }
            start += lh * lw;
          }
          EXPECT_NEAR(out[0][qi][h * d + c].item<double>(), expected, 1e-5)
              << qi << " " << h << " " << c;
        }
      }
    }
  }
}

TEST(DeformableAttentionTest, GatherAndGridSamplePathsAgreeInValueAndGradient) {
  torch::manual_seed(6);
  const LevelShapes shapes = {{8, 12}, {4, 6}, {2, 3}};
  const torch::Tensor value0 = torch::randn({2, 96 + 24 + 6, 4, 8});
  const torch::Tensor locations0 = torch::rand({2, 10, 4, 3, 4, 2}) * 1.3 - 0.15;
  const torch::Tensor weights0 =
      torch::softmax(torch::randn({2, 10, 4, 12}), -1).view({2, 10, 4, 3, 4});
  std::vector<torch::Tensor> outputs, grads;
  for (DeformableSampling sampling :
       {DeformableSampling::kGridSample, DeformableSampling::kGather}) {
    torch::Tensor value = value0.clone().requires_grad_(),
                  weights = weights0.clone().requires_grad_();
    const torch::Tensor out =
        MultiScaleDeformableAttention(value, shapes, locations0, weights, sampling);
    (out * torch::arange(out.numel()).view(out.sizes()).sin()).sum().backward();
    outputs.push_back(out.detach());
    grads.push_back(value.grad());
    grads.push_back(weights.grad());
  }
  EXPECT_TRUE(torch::allclose(outputs[0], outputs[1], 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(grads[0], grads[2], 1e-5, 1e-5));  // d/d value
  EXPECT_TRUE(torch::allclose(grads[1], grads[3], 1e-4, 1e-5));  // d/d attention weights
  // The inference kernel agrees, and in bf16 both fast paths stay close to fp32.
  EXPECT_TRUE(torch::allclose(MultiScaleDeformableAttention(value0, shapes, locations0, weights0,
                                                            DeformableSampling::kCpuKernel),
                              outputs[0], 1e-5, 1e-5));
  for (DeformableSampling sampling :
       {DeformableSampling::kGather, DeformableSampling::kCpuKernel}) {
    const torch::Tensor half = MultiScaleDeformableAttention(
        value0.to(torch::kBFloat16), shapes, locations0, weights0.to(torch::kBFloat16), sampling);
    EXPECT_EQ(half.scalar_type(), torch::kBFloat16);
    EXPECT_LT((half.to(torch::kFloat32) - outputs[0]).abs().max().item<double>(), 0.05);
  }
}

TEST(Mask2FormerTrainingTest, TinyConfigsLearnOnCpu) {
  for (Mask2FormerConfig config :
       {Mask2FormerConfig::TinyResNet(), Mask2FormerConfig::TinySwin()}) {
    torch::manual_seed(5);
    Mask2Former model(config);
    model->train();
    torch::optim::AdamW optimiser(model->parameters(),
                                  torch::optim::AdamWOptions(1e-3).weight_decay(0.05));
    const auto [images, targets] = testing::SyntheticShapes(4, 128);
    Mask2FormerLossOptions options;
    options.num_points = 1024;
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(9);
    double first = 0, last = 0;
    for (int step = 0; step < 25; ++step) {
      optimiser.zero_grad();
      absl::StatusOr<Mask2FormerLosses> loss =
          ComputeMask2FormerLoss(model->forward(images), targets, options, generator);
      ASSERT_TRUE(loss.ok()) << loss.status();
      loss->total.backward();
      torch::nn::utils::clip_grad_norm_(model->parameters(), 0.1);
      optimiser.step();
      (step == 0 ? first : last) = loss->total.item<double>();
    }
    EXPECT_LT(last, 0.6 * first) << config.Describe() << ": " << first << " -> " << last;
    // Frozen batch norm stays frozen: its statistics are buffers, not parameters.
    for (const auto& p : model->named_parameters()) {
      EXPECT_EQ(p.key().find("running_"), std::string::npos) << p.key();
    }
  }
}

}  // namespace
}  // namespace ovseg
