// Every FGAseg block on its own, with 1, 150 and 847 classes: output shapes, and masking,
// i.e. a class's output depends neither on how many other classes share its batch nor on
// batch-padding classes (garbage in the padding must not leak into real classes).
#include <gtest/gtest.h>

#include "model/fgaseg/cost_aggregation.h"
#include "model/fgaseg/p2tformer.h"
#include "model/fgaseg/text_kernels.h"
#include "model/fgaseg/upsampling_decoder.h"

namespace ovseg {
namespace {

constexpr int64_t kDim = 32, kGrid = 6;

class FgaSegBlocksTest : public ::testing::TestWithParam<int64_t> {
 protected:
  void SetUp() override {
    torch::manual_seed(21);
    image_ = torch::randn({2, kDim, kGrid, kGrid});
    text_ = torch::randn({2, GetParam(), kDim});
  }
  // Row 1 keeps only its first class; the rest of it is padding, filled with garbage.
  torch::Tensor PaddedValid() const {
    torch::Tensor valid = torch::ones({2, GetParam()}, torch::kBool);
    valid[1].narrow(0, 1, GetParam() - 1).fill_(false);
    return valid;
  }
  torch::Tensor image_, text_;
  torch::NoGradGuard no_grad_;
};

TEST_P(FgaSegBlocksTest, P2TformerKeepsClassesIndependent) {
  P2Tformer p2t(kDim, 4, 1);
  const torch::Tensor out = p2t->forward(image_, text_);
  EXPECT_EQ(out.sizes(), text_.sizes());
  const torch::Tensor first = p2t->forward(image_, text_.narrow(1, 0, 1));
  EXPECT_TRUE(torch::allclose(out.narrow(1, 0, 1), first, 1e-5, 1e-5));
}

TEST_P(FgaSegBlocksTest, TextKernelsGiveOneMapPerClass) {
  LocalAlignment lcs(kDim, kDim, 3);
  const torch::Tensor local = lcs->forward(image_, text_);
  EXPECT_EQ(local.sizes(), (std::vector<int64_t>{2, GetParam(), kGrid, kGrid}));
  EXPECT_TRUE(torch::allclose(local.narrow(1, 0, 1), lcs->forward(image_, text_.narrow(1, 0, 1)),
                              1e-5, 1e-5));
  T2PAlignment t2p(kDim, kDim / 2, 3);
  t2p->eval();
  const torch::Tensor aligned = t2p->forward(image_, text_);
  EXPECT_EQ(aligned.sizes(), (std::vector<int64_t>{2, GetParam(), 4 * kGrid, 4 * kGrid}));
  EXPECT_TRUE(torch::allclose(aligned.narrow(1, 0, 1), t2p->forward(image_, text_.narrow(1, 0, 1)),
                              1e-5, 1e-5));
}

TEST_P(FgaSegBlocksTest, AggregationIgnoresPaddingClasses) {
  const int64_t t = GetParam(), hidden = 16, guidance = 8;
  // pad_len 0: class attention over exactly the request's classes, however many.
  AggregationLayer layer(hidden, guidance, guidance, 4, 2, 4, /*pad_len=*/0);
  layer->eval();
  const torch::Tensor x = torch::randn({2, hidden, t, kGrid, kGrid});
  const torch::Tensor appearance = torch::randn({2, guidance, kGrid, kGrid});
  const torch::Tensor text_guidance = torch::randn({2, t, guidance});
  const torch::Tensor out = layer->forward(x, appearance, text_guidance, PaddedValid());
  EXPECT_EQ(out.sizes(), x.sizes());
  EXPECT_FALSE(torch::isnan(out).any().item<bool>());
  // Row 1's one real class equals that class run alone, whatever its padding holds.
  const torch::Tensor alone = layer->forward(
      x[1].narrow(1, 0, 1).unsqueeze(0), appearance[1].unsqueeze(0),
      text_guidance[1].narrow(0, 0, 1).unsqueeze(0), torch::ones({1, 1}, torch::kBool));
  EXPECT_TRUE(torch::allclose(out[1].narrow(1, 0, 1), alone[0], 1e-4, 1e-4));
  // Spatial aggregation alone: each class's map on its own.
  SpatialAggregation spatial(hidden, guidance, 4, 4);
  const torch::Tensor s = spatial->forward(x, appearance);
  EXPECT_EQ(s.sizes(), x.sizes());
  EXPECT_TRUE(torch::allclose(s.narrow(2, 0, 1), spatial->forward(x.narrow(2, 0, 1), appearance),
                              1e-4, 1e-4));
}

TEST_P(FgaSegBlocksTest, ClassAggregationWithPadLenPadsOrRefuses) {
  const int64_t t = GetParam(), hidden = 16, guidance = 8, pad_len = 256;
  ClassAggregation attention(hidden, guidance, 4, 2, pad_len);
  const torch::Tensor x = torch::randn({2, hidden, t, 4, 4});
  const torch::Tensor g = torch::randn({2, t, guidance});
  if (t > pad_len) {
    // The head cuts larger vocabularies to pad_len before aggregation; the block refuses.
    EXPECT_THROW(attention->forward(x, g, PaddedValid()), c10::Error);
    return;
  }
  const torch::Tensor out = attention->forward(x, g, PaddedValid());
  EXPECT_EQ(out.sizes(), x.sizes());
  const torch::Tensor alone =
      attention->forward(x[1].narrow(1, 0, 1).unsqueeze(0), g[1].narrow(0, 0, 1).unsqueeze(0),
                         torch::ones({1, 1}, torch::kBool));
  EXPECT_TRUE(torch::allclose(out[1].narrow(1, 0, 1), alone[0], 1e-4, 1e-4));
}

TEST_P(FgaSegBlocksTest, UpBlockDoublesEachClassMap) {
  const int64_t rows = 2 * GetParam();
  UpBlock up(32, 16, 4);  // GroupNorm of out / 16 groups
  up->eval();
  const torch::Tensor x = torch::randn({rows, 32, kGrid, kGrid});
  const torch::Tensor g = torch::randn({rows, 4, 2 * kGrid, 2 * kGrid});
  const torch::Tensor out = up->forward(x, g);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{rows, 16, 2 * kGrid, 2 * kGrid}));
  EXPECT_TRUE(torch::allclose(out.narrow(0, 0, 1),
                              up->forward(x.narrow(0, 0, 1), g.narrow(0, 0, 1)), 1e-4, 1e-4));
}

INSTANTIATE_TEST_SUITE_P(Classes, FgaSegBlocksTest, ::testing::Values(1, 150, 847));

}  // namespace
}  // namespace ovseg
