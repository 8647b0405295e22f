// SplitProposalPieces (model/serving/proposal_split.h) and the pipeline's
// proposal_split_fraction: a proposal over two things apart becomes two proposals.
#include "model/serving/proposal_split.h"

#include <gtest/gtest.h>

#include "model/serving/fovseg_pipeline.h"
#include "tests/fakes/fake_pipeline_parts.h"

namespace ovseg {
namespace {

// [2, 16, 16]: proposal 0 holds a 6 x 6 block (rows 1-6), a 4 x 6 block (rows 9-12) and a
// one-pixel fleck; proposal 1 a single block. Outside: -3 (a soft edge, not -10).
torch::Tensor TwoProposals() {
  torch::Tensor logits = torch::full({2, 16, 16}, -3.0f);
  logits[0].slice(0, 1, 7).slice(1, 1, 7).fill_(5.0f);
  logits[0].slice(0, 9, 13).slice(1, 8, 14).fill_(4.0f);
  logits[0][15][0] = 6.0f;
  logits[1].slice(0, 4, 10).slice(1, 4, 10).fill_(7.0f);
  return logits;
}

TEST(SplitProposalPiecesTest, LargePiecesBecomeProposalsStraysAndOtherPiecesLeave) {
  const torch::Tensor logits = TwoProposals();
  const torch::Tensor objectness = torch::tensor({0.9f, 0.6f});
  const SplitProposals split = SplitProposalPieces(logits, objectness, 0.5, 100);
  ASSERT_EQ(split.logits.size(0), 3);
  EXPECT_TRUE(torch::equal(split.objectness, torch::tensor({0.9f, 0.9f, 0.6f})));
  const torch::Tensor first = split.logits[0], second = split.logits[1];
  // Piece 1 (raster order): the 6 x 6 block, its soft edge kept, the rest pushed out.
  EXPECT_EQ(first[3][3].item<float>(), 5.0f);
  EXPECT_EQ(first[8][3].item<float>(), -3.0f);
  EXPECT_LE(first[10][10].item<float>(), -10.0f);
  EXPECT_LE(first[15][0].item<float>(), -10.0f);
  EXPECT_EQ((first > 0).sum().item<int64_t>(), 36);
  // Piece 2: the 4 x 6 block alone.
  EXPECT_EQ(second[10][10].item<float>(), 4.0f);
  EXPECT_LE(second[3][3].item<float>(), -10.0f);
  EXPECT_EQ((second > 0).sum().item<int64_t>(), 24);
  // A proposal in one piece passes as it was.
  EXPECT_TRUE(torch::equal(split.logits[2], logits[1]));
}

TEST(SplitProposalPiecesTest, FractionDecidesWhatIsAPieceAndMaxProposalsCaps) {
  const torch::Tensor logits = TwoProposals();
  const torch::Tensor objectness = torch::tensor({0.9f, 0.6f});
  // 24 < 0.7 x 36: the second block is a stray, so proposal 0 stays whole.
  const SplitProposals whole = SplitProposalPieces(logits, objectness, 0.7, 100);
  ASSERT_EQ(whole.logits.size(0), 2);
  EXPECT_TRUE(torch::equal(whole.logits, logits));
  // A fraction small enough makes the fleck a piece too.
  EXPECT_EQ(SplitProposalPieces(logits, objectness, 0.01, 100).logits.size(0), 4);
  // The cap keeps the first proposals in order: the two pieces of proposal 0.
  const SplitProposals capped = SplitProposalPieces(logits, objectness, 0.5, 2);
  ASSERT_EQ(capped.logits.size(0), 2);
  EXPECT_EQ(capped.logits[1][10][10].item<float>(), 4.0f);
  // No proposal in, none out.
  EXPECT_EQ(SplitProposalPieces(logits.narrow(0, 0, 0), objectness.narrow(0, 0, 0), 0.5, 100)
                .logits.size(0),
            0);
}

// One proposal over two blocks far apart: split, two proposals.
TEST(FovSegPipelineTest, ProposalSplitFractionServesEachPieceAsItsOwnProposal) {
  ImageRgb8 image{64, 64, PixelBuffer(64 * 64 * 3, 90)};
  const PipelineRequest r = testing::ProposalsRequest(image, 2);
  auto answer = [&](double fraction) {
    FovSegPipelineOptions options;
    options.proposal_split_fraction = fraction;
    FovSegPipeline pipeline(
        testing::TinyClassifier(), torch::kCPU, PipelineInfo{},
        std::make_shared<testing::BlocksProposalGenerator>(
            std::vector<testing::CellBlock>{{1, 6, 1, 6}, {10, 15, 10, 15}}, 0.8f),
        options);
    auto out = pipeline.Run({r});
    EXPECT_TRUE(out[0].ok()) << out[0].status();
    return *std::move(out[0]);
  };
  const auto inside = [](const PipelineSegment& s, int y, int x) {
    return s.soft_mask[static_cast<size_t>(y * 64 + x)] > 128;
  };
  const PipelineResult as_generated = answer(0.0);
  ASSERT_EQ(as_generated.segments.size(), 1u);
  EXPECT_TRUE(inside(as_generated.segments[0], 12, 12) && inside(as_generated.segments[0], 50, 50));

  const PipelineResult split = answer(0.5);
  ASSERT_EQ(split.segments.size(), 2u);
  EXPECT_TRUE(inside(split.segments[0], 12, 12));
  EXPECT_FALSE(inside(split.segments[0], 50, 50));
  EXPECT_TRUE(inside(split.segments[1], 50, 50));
  EXPECT_FALSE(inside(split.segments[1], 12, 12));
  for (const PipelineSegment& s : split.segments) EXPECT_NEAR(s.score, 0.8f, 1e-6);
}

}  // namespace
}  // namespace ovseg
