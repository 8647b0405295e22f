#include "model/serving/proposal_split.h"

#include <algorithm>
#include <vector>

#include "model/teva/mask_components.h"

namespace ovseg {

SplitProposals SplitProposalPieces(const torch::Tensor& logits, const torch::Tensor& objectness,
                                   double min_fraction, int64_t max_proposals) {
  const torch::Tensor inside = (logits > 0).to(torch::kUInt8).contiguous();
  const int64_t n = logits.size(0), height = logits.size(1), width = logits.size(2);
  std::vector<torch::Tensor> out_logits, out_scores;
  int64_t count = 0;
  for (int64_t i = 0; i < n && count < max_proposals; ++i) {
    std::vector<int64_t> sizes;
    const std::vector<int32_t> label =
        LabelComponents(inside[i].data_ptr<uint8_t>(), height, width, &sizes);
    std::vector<int32_t> pieces;  // Labels of the pieces large enough to stand alone.
    if (sizes.size() > 1) {
      const double largest = static_cast<double>(*std::max_element(sizes.begin(), sizes.end()));
      for (size_t c = 0; c < sizes.size(); ++c) {
        if (static_cast<double>(sizes[c]) >= min_fraction * largest) {
          pieces.push_back(static_cast<int32_t>(c + 1));
        }
      }
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
