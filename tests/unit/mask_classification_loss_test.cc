// L_CE's targets and loss: proposals matched one-to-one to segments with Mask2Former's
// cost (class + BCE + dice; the best assignment, not greedy), the rest void; the loss
// weighs void by void_weight and ignores padded proposals.
#include "model/train/mask_classification_loss.h"

#include <gtest/gtest.h>

namespace ovseg {
namespace {

torch::Tensor Box(int64_t x0, int64_t x1) {
  torch::Tensor m = torch::zeros({8, 8});
  m.narrow(1, x0, x1 - x0).fill_(1);
  return m;
}

TEST(MaskClassificationLossTest, HungarianTargetsAndVoid) {
  // Segments: columns 0-3 (class 5) and 4-7 (class 2). Proposals: 0-2, 0-4 (overlaps
  // both), 5-7, and 0-0 shifted out (no overlap with anything left).
  const torch::Tensor segments = torch::stack({Box(0, 4), Box(4, 8)});
  const torch::Tensor proposals =
      torch::stack({Box(0, 3), Box(0, 5), Box(5, 8), torch::zeros({8, 8})}) * 20 - 10;
  absl::StatusOr<std::vector<int64_t>> t = MatchProposalsToSegments(proposals, segments, {5, 2});
  ASSERT_TRUE(t.ok()) << t.status();
  // Greedy would give proposal 1 (IoU 0.8 with segment 0) class 5, then segment 1 to
  // proposal 2; the optimum is the same here. Proposal 0 is left over: void.
  EXPECT_EQ(*t, (std::vector<int64_t>{kVoidTarget, 5, 2, kVoidTarget}));
  // With a floor above the second match's IoU (0.75), it becomes void too.
  t = MatchProposalsToSegments(proposals, segments, {5, 2}, MatchingCost{.min_iou = 0.79});
  EXPECT_EQ(*t, (std::vector<int64_t>{kVoidTarget, 5, kVoidTarget, kVoidTarget}));
  EXPECT_FALSE(MatchProposalsToSegments(proposals, segments, {5}).ok());
}

TEST(MaskClassificationLossTest, ClassCostDecidesBetweenEqualMasks) {
  // Two identical proposals over one segment of class 1: the masks cannot tell them apart,
  // the class term can. Classes 0, 1 and void.
  const torch::Tensor segments = Box(0, 4).unsqueeze(0);
  const torch::Tensor proposals = torch::stack({Box(0, 4), Box(0, 4)}) * 20 - 10;
  const torch::Tensor probs = torch::tensor({{0.8f, 0.1f, 0.1f}, {0.1f, 0.8f, 0.1f}});
  absl::StatusOr<std::vector<int64_t>> t =
      MatchProposalsToSegments(proposals, segments, {1}, MatchingCost{}, probs);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, (std::vector<int64_t>{kVoidTarget, 1}));
  t = MatchProposalsToSegments(proposals, segments, {0}, MatchingCost{}, probs);
  EXPECT_EQ(*t, (std::vector<int64_t>{0, kVoidTarget}));
  // Mask terms still dominate a small class difference: the better mask wins.
  const torch::Tensor uneven = torch::stack({Box(0, 4), Box(0, 6)}) * 20 - 10;
  t = MatchProposalsToSegments(uneven, segments, {1}, MatchingCost{}, probs);
  EXPECT_EQ(*t, (std::vector<int64_t>{1, kVoidTarget}));
  EXPECT_FALSE(
      MatchProposalsToSegments(proposals, segments, {1}, MatchingCost{}, probs.narrow(0, 0, 1))
          .ok());
}

TEST(MaskClassificationLossTest, CrossEntropyOverValidProposals) {
  // 1 image, 3 proposals (the last padded), 2 classes + void.
  torch::Tensor logits =
      torch::tensor({{{2.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 3.0f}, {9.0f, -9.0f, 0.0f}}});
  const torch::Tensor targets = torch::tensor({{int64_t{0}, kVoidTarget, int64_t{1}}});
  const torch::Tensor valid = torch::tensor({{true, true, false}});
  const double object = -std::log(std::exp(2.0) / (std::exp(2.0) + 2.0));
  const double none = -std::log(std::exp(3.0) / (std::exp(3.0) + 2.0));
  EXPECT_NEAR(MaskClassificationLoss(logits, targets, valid, 1.0).item<double>(),
              0.5 * (object + none), 1e-6);
  // Void weighted 0.1: PyTorch's weighted mean, sum w l / sum w (Mask2Former's eos_coef).
  EXPECT_NEAR(MaskClassificationLoss(logits, targets, valid, 0.1).item<double>(),
              (object + 0.1 * none) / 1.1, 1e-6);
  EXPECT_NEAR(MaskClassificationLoss(logits, targets, valid, 0.0).item<double>(), object, 1e-6);
  // Nothing but void at weight 0 is no signal, not 0 / 0.
  const torch::Tensor all_void = torch::tensor({{kVoidTarget, kVoidTarget, kVoidTarget}});
  const torch::Tensor loss = MaskClassificationLoss(logits, all_void, valid, 0.0);
  EXPECT_EQ(loss.item<double>(), 0.0);
}

}  // namespace
}  // namespace ovseg
