#include "model/serving/proposal_split.h"

#include <algorithm>
#include <vector>

#include "model/teva/mask_components.h"

namespace ovseg {

namespace {

// Labels 1..sizes->size() of the pieces large enough to stand alone: at least
// `min_fraction` x the largest; none when there is only one piece.
std::vector<int32_t> PiecesToSplit(const std::vector<int64_t>& sizes, double min_fraction) {
  std::vector<int32_t> pieces;
  if (sizes.size() < 2) return pieces;
  const double largest = static_cast<double>(*std::max_element(sizes.begin(), sizes.end()));
  for (size_t c = 0; c < sizes.size(); ++c) {
    if (static_cast<double>(sizes[c]) >= min_fraction * largest) {
      pieces.push_back(static_cast<int32_t>(c + 1));
    }
  }
  return pieces;
}

// The mask's (`inside`, [H, W] uint8, contiguous) pixels grouped into the 8-connected
// components of the mask dilated by `join_radius` (a square of side 2 x radius + 1):
// pieces that close are one. 0 outside the mask; groups 1..sizes->size(), each sized by
// its mask pixels (not the dilation's).
std::vector<int32_t> JoinNearPieces(const torch::Tensor& inside, int64_t join_radius,
                                    std::vector<int64_t>* sizes) {
  const int64_t height = inside.size(0), width = inside.size(1);
  const torch::Tensor dilated =
      torch::max_pool2d(inside.to(torch::kFloat32).unsqueeze(0).unsqueeze(0),
                        {2 * join_radius + 1, 2 * join_radius + 1}, {1, 1},
                        {join_radius, join_radius})
          .squeeze(0)
          .squeeze(0)
          .gt(0)
          .to(torch::kUInt8)
          .contiguous();
  std::vector<int64_t> dilated_sizes;
  std::vector<int32_t> label =
      LabelComponents(dilated.data_ptr<uint8_t>(), height, width, &dilated_sizes);
  // The groups' sizes count the mask's own pixels, not the dilation's.
  const uint8_t* in = inside.data_ptr<uint8_t>();
  sizes->assign(dilated_sizes.size(), 0);
  for (size_t p = 0; p < label.size(); ++p) {
    if (in[p]) {
      ++(*sizes)[label[p] - 1];
    } else {
      label[p] = 0;
    }
  }
  return label;
}

}  // namespace

SplitProposals SplitProposalPieces(const torch::Tensor& logits, const torch::Tensor& objectness,
                                   double min_fraction, int64_t join_radius,
                                   int64_t max_proposals) {
  const torch::Tensor inside = (logits > 0).to(torch::kUInt8).contiguous();
  const int64_t n = logits.size(0), height = logits.size(1), width = logits.size(2);
  std::vector<torch::Tensor> out_logits, out_scores;
  int64_t count = 0;
  for (int64_t i = 0; i < n && count < max_proposals; ++i) {
    std::vector<int64_t> sizes;
    std::vector<int32_t> label =
        LabelComponents(inside[i].data_ptr<uint8_t>(), height, width, &sizes);
    std::vector<int32_t> pieces = PiecesToSplit(sizes, min_fraction);
    // Joining can only merge pieces: done for the few proposals that would split.
    if (pieces.size() > 1 && join_radius > 0) {
      label = JoinNearPieces(inside[i], join_radius, &sizes);
      pieces = PiecesToSplit(sizes, min_fraction);
    }
    if (pieces.size() <= 1) {
      out_logits.push_back(logits[i].unsqueeze(0));
      out_scores.push_back(objectness[i].unsqueeze(0));
      ++count;
      continue;
    }
    const torch::Tensor labels =
        torch::from_blob(const_cast<int32_t*>(label.data()), {height, width}, torch::kInt32);
    const torch::Tensor pushed_out = logits[i].clamp_max(-10.0f);
    for (int32_t piece : pieces) {
      if (count == max_proposals) break;
      // Every other component's pixels, strays included, leave this piece.
      const torch::Tensor elsewhere = (labels != 0).logical_and(labels != piece);
      out_logits.push_back(torch::where(elsewhere, pushed_out, logits[i]).unsqueeze(0));
      out_scores.push_back(objectness[i].unsqueeze(0));
      ++count;
    }
  }
  if (out_logits.empty()) return {logits.narrow(0, 0, 0), objectness.narrow(0, 0, 0)};
  return {torch::cat(out_logits, 0), torch::cat(out_scores, 0)};
}

}  // namespace ovseg
