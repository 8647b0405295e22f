// FiSeR's Predictor: padding never changes a real image's logits, gradients reach every
// parameter and the encoder's patch features, [M] is drawn among valid labels only, and
// the task is learnable (the masked label is recoverable when the image shows it).
#include <gtest/gtest.h>

#include <set>

#include "model/train/fiser_predictor.h"

namespace ovseg {
namespace {

namespace F = torch::nn::functional;

FiserConfig Tiny() {
  FiserConfig c;
  c.embed_dim = 16;
  c.image_width = 24;
  c.width = 32;
  c.layers = 2;
  c.heads = 4;
  return c;
}

torch::Tensor Labels(int64_t b, int64_t k) {
  return F::normalize(torch::randn({b, k, 16}), F::NormalizeFuncOptions().dim(-1));
}

TEST(FiserTest, PaddingNeverChangesAnImagesLogits) {
  torch::manual_seed(1);
  FiserPredictor p(Tiny());
  p->eval();
  FiserInputs alone{Labels(1, 3), torch::ones({1, 3}, torch::kBool), torch::tensor({2}),
                    torch::randn({1, 9, 24})};
  FiserInputs other{Labels(1, 5), torch::ones({1, 5}, torch::kBool), torch::tensor({0}),
                    torch::randn({1, 9, 24})};
  FiserInputs batch;
  batch.class_embeddings = torch::zeros({2, 5, 16});
  batch.class_embeddings[0].narrow(0, 0, 3).copy_(alone.class_embeddings[0]);
  batch.class_embeddings[0].narrow(0, 3, 2).copy_(torch::randn({2, 16}));  // garbage padding
  batch.class_embeddings[1].copy_(other.class_embeddings[0]);
  batch.class_valid = torch::ones({2, 5}, torch::kBool);
  batch.class_valid[0].narrow(0, 3, 2).fill_(false);
  batch.masked = torch::tensor({2, 0});
  batch.patches = torch::cat({alone.patches, other.patches});
  torch::NoGradGuard no_grad;
  const FiserOutputs together = p->forward(batch), single = p->forward(alone);
  EXPECT_TRUE(torch::allclose(together.logits[0].narrow(0, 0, 3), single.logits[0], 1e-5, 1e-5));
  EXPECT_TRUE(torch::isinf(together.logits[0].narrow(0, 3, 2)).all().item<bool>());
  EXPECT_TRUE(std::isfinite(together.loss.item<double>()));
}

TEST(FiserTest, GradientsReachEveryParameterAndThePatches) {
  torch::manual_seed(2);
  FiserPredictor p(Tiny());
  FiserInputs in{Labels(2, 4), torch::ones({2, 4}, torch::kBool), torch::tensor({1, 3}),
                 torch::randn({2, 6, 24}, torch::requires_grad())};
  in.class_valid[1][0] = false;
  p->forward(in).loss.backward();
  for (const auto& param : p->named_parameters()) {
    ASSERT_TRUE(param.value().grad().defined()) << param.key();
    EXPECT_GT(param.value().grad().abs().sum().item<double>(), 0.0) << param.key();
  }
  EXPECT_GT(in.patches.grad().abs().sum().item<double>(), 0.0);
}

TEST(FiserTest, MaskedLabelsAreValidOnes) {
  torch::manual_seed(3);
  torch::Tensor valid = torch::zeros({50, 6}, torch::kBool);
  for (int64_t i = 0; i < 50; ++i) valid[i].narrow(0, 0, 1 + i % 6).fill_(true);
  const torch::Tensor m = SampleMaskedLabels(valid);
  std::set<int64_t> drawn;
  for (int64_t i = 0; i < 50; ++i) {
    EXPECT_TRUE(valid[i][m[i].item<int64_t>()].item<bool>());
    drawn.insert(m[i].item<int64_t>());
  }
  EXPECT_EQ(drawn.size(), 6u);  // every position gets drawn somewhere
}

// The image shows the masked label: one patch carries its embedding (mixed into 24
// channels), the others are noise. The Predictor must learn to read that patch: the loss
// drops far below its start.
TEST(FiserTest, LearnsToReconstructTheMaskedLabel) {
  torch::manual_seed(4);
  FiserPredictor p(Tiny());
  const torch::Tensor mix = torch::randn({16, 24}) * 0.5;
  torch::optim::AdamW opt(p->parameters(), torch::optim::AdamWOptions(2e-3).weight_decay(0.0));
  auto batch = [&] {
    FiserInputs in{Labels(16, 5), torch::ones({16, 5}, torch::kBool), torch::Tensor(), {}};
    in.masked = SampleMaskedLabels(in.class_valid);
    const torch::Tensor shown =
        in.class_embeddings.gather(1, in.masked.view({16, 1, 1}).expand({16, 1, 16}));
    in.patches = torch::cat({torch::matmul(shown, mix), torch::randn({16, 4, 24}) * 0.5}, 1);
    return in;
  };
  double first = 0, last = 0;
  for (int step = 0; step < 200; ++step) {
    opt.zero_grad();
    const torch::Tensor loss = p->forward(batch()).loss;
    loss.backward();
    opt.step();
    if (step < 10) first += loss.item<double>() / 10;
    if (step >= 190) last += loss.item<double>() / 10;
  }
  EXPECT_GT(first, 1.0);
  EXPECT_LT(last, 0.25 * first) << "first " << first << ", last " << last;
}

}  // namespace
}  // namespace ovseg
