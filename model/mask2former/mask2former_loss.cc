#include "model/mask2former/mask2former_loss.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "model/matching/linear_assignment.h"

namespace ovseg {
namespace F = torch::nn::functional;
namespace {

// Class target of a query left out of the classification loss (cross_entropy's ignore_index).
constexpr int64_t kIgnoredQuery = -100;

torch::Tensor Uniform(int64_t n, int64_t p, std::optional<at::Generator> generator,
                      const torch::Device& device) {
  return at::rand({n, p, 2}, generator, torch::TensorOptions().device(device));
}

// PointRend's importance sampling: oversample uniformly, keep the most uncertain
// (|logit| smallest) share, fill up with fresh uniform points.
torch::Tensor UncertainPoints(const torch::Tensor& logits, const Mask2FormerLossOptions& o,
                              std::optional<at::Generator> generator) {
  const int64_t n = logits.size(0), p = o.num_points;
  const int64_t sampled = static_cast<int64_t>(p * o.oversample_ratio);
  const int64_t uncertain = static_cast<int64_t>(o.importance_sample_ratio * p);
  const torch::Tensor candidates = Uniform(n, sampled, generator, logits.device());
  const torch::Tensor uncertainty = -SamplePoints(logits, candidates).abs();
  const torch::Tensor index = std::get<1>(uncertainty.topk(uncertain, 1));
  torch::Tensor points = candidates.gather(1, index.unsqueeze(-1).expand({n, uncertain, 2}));
  if (p > uncertain) {
    points = torch::cat({points, Uniform(n, p - uncertain, generator, logits.device())}, 1);
  }
  return points;
}

}  // namespace

torch::Tensor SamplePoints(const torch::Tensor& maps, const torch::Tensor& points) {
  const torch::Tensor grid = (points * 2.0 - 1.0).unsqueeze(2).to(maps.scalar_type());
  return F::grid_sample(maps.unsqueeze(1), grid,
                        F::GridSampleFuncOptions()
                            .mode(torch::kBilinear)
                            .padding_mode(torch::kZeros)
                            .align_corners(false))
      .squeeze(-1)
      .squeeze(1);
}

torch::Tensor PairwiseMaskBce(const torch::Tensor& logits, const torch::Tensor& targets) {
  // BCE(x, 1) = softplus(-x), BCE(x, 0) = softplus(x); mean over points.
  const double p = static_cast<double>(logits.size(1));
  return torch::matmul(F::softplus(-logits) / p, targets.t()) +
         torch::matmul(F::softplus(logits) / p, (1.0 - targets).t());
}

torch::Tensor PairwiseDice(const torch::Tensor& logits, const torch::Tensor& targets) {
  const torch::Tensor s = logits.sigmoid();
  const torch::Tensor numerator = 2.0 * torch::matmul(s, targets.t());
  const torch::Tensor denominator = s.sum(-1).unsqueeze(1) + targets.sum(-1).unsqueeze(0);
  return 1.0 - (numerator + 1.0) / (denominator + 1.0);
}

absl::StatusOr<std::vector<std::pair<int64_t, int64_t>>> MatchQueries(
    const torch::Tensor& class_logits, const torch::Tensor& mask_logits,
    const SegmentTargets& targets, const Mask2FormerLossOptions& options,
    std::optional<at::Generator> generator) {
  const int64_t q = mask_logits.size(0), t = targets.masks.size(0);
  if (t == 0) return std::vector<std::pair<int64_t, int64_t>>{};
  torch::NoGradGuard no_grad;
  const torch::Tensor probs = torch::softmax(class_logits.to(torch::kFloat32), -1);
  const torch::Tensor cost_class = -probs.index_select(1, targets.labels.to(probs.device()));
  // One set of uniform points shared by every query and target of the image.
  const torch::Tensor points = Uniform(1, options.num_points, generator, mask_logits.device());
  const torch::Tensor pred =
      SamplePoints(mask_logits.to(torch::kFloat32), points.expand({q, -1, -1}));
  const torch::Tensor target = SamplePoints(targets.masks.to(mask_logits.device(), torch::kFloat32),
                                            points.expand({t, -1, -1}));
  const torch::Tensor cost = options.mask_weight * PairwiseMaskBce(pred, target) +
                             options.class_weight * cost_class +
                             options.dice_weight * PairwiseDice(pred, target);  // [Q, T]
  const torch::Tensor by_target = cost.t().contiguous().to(torch::kCPU, torch::kFloat64);
  absl::StatusOr<Assignment> a = SolveLinearAssignment(
      absl::MakeConstSpan(by_target.data_ptr<double>(), by_target.numel()), t, q);
  if (!a.ok()) return a.status();
  std::vector<std::pair<int64_t, int64_t>> pairs;
  for (size_t k = 0; k < a->rows.size(); ++k) pairs.emplace_back(a->cols[k], a->rows[k]);
  std::sort(pairs.begin(), pairs.end());  // by query, as the reference orders its masks
  return pairs;
}

absl::StatusOr<Mask2FormerLosses> ComputeMask2FormerLoss(
    const std::vector<MaskPrediction>& predictions, const std::vector<SegmentTargets>& targets,
    const Mask2FormerLossOptions& options, std::optional<at::Generator> generator) {
  if (predictions.empty()) return absl::InvalidArgumentError("mask2former loss: no predictions");
  const int64_t b = predictions[0].mask_logits.size(0);
  if (static_cast<int64_t>(targets.size()) != b) {
    return absl::InvalidArgumentError(
        absl::StrCat("mask2former loss: ", targets.size(), " target sets for a batch of ", b));
  }
  int64_t total_targets = 0;
  for (const SegmentTargets& t : targets) {
    if (t.masks.dim() != 3 || t.labels.dim() != 1 || t.masks.size(0) != t.labels.size(0)) {
      return absl::InvalidArgumentError(
          "mask2former loss: targets need masks [N, H, W] and labels [N] with the same N");
    }
    total_targets += t.masks.size(0);
  }
  const double num_masks = std::max<int64_t>(1, total_targets);
  Mask2FormerLosses out;
  const torch::Device device = predictions[0].mask_logits.device();
  out.classification = torch::zeros({}, torch::TensorOptions().device(device));
  out.mask_bce = out.classification.clone();
  out.mask_dice = out.classification.clone();
  out.total = out.classification.clone();
  // The final stage first, then the earlier ones in order: the reference's order, so that
  // the same random stream samples the same points.
  std::vector<size_t> order = {predictions.size() - 1};
  for (size_t s = 0; s + 1 < predictions.size(); ++s) order.push_back(s);
  for (size_t s : order) {
    const MaskPrediction& p = predictions[s];
    if (!p.class_logits.defined()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "mask2former loss: stage ", s, " has no class logits (run forward with all_stages)"));
    }
    const torch::Tensor class_logits = p.class_logits.to(torch::kFloat32);
    const int64_t q = class_logits.size(1), void_class = class_logits.size(2) - 1;
    torch::Tensor class_targets =
        torch::full({b, q}, void_class, torch::TensorOptions().dtype(torch::kLong).device(device));
    std::vector<torch::Tensor> matched_pred, matched_target;
    bool left_out_any = false;  // the unannotated rule ran on some image
    for (int64_t i = 0; i < b; ++i) {
      absl::StatusOr<std::vector<std::pair<int64_t, int64_t>>> pairs =
          MatchQueries(class_logits[i], p.mask_logits[i], targets[i], options, generator);
      if (!pairs.ok()) return pairs.status();
      std::vector<int64_t> queries, indices;
      for (const auto& [query, target] : *pairs) {
        queries.push_back(query);
        indices.push_back(target);
      }
      if (targets[i].unannotated.defined() && options.unannotated_overlap <= 1.0) {
        torch::NoGradGuard no_grad;
        const torch::Tensor on = p.mask_logits[i].detach() > 0;  // [Q, h, w]
        const torch::Tensor unannotated =
            F::interpolate(
                targets[i].unannotated.to(device, torch::kFloat32).unsqueeze(0).unsqueeze(0),
                F::InterpolateFuncOptions()
                    .size(std::vector<int64_t>{on.size(1), on.size(2)})
                    .mode(torch::kNearest))[0][0] > 0.5;
        const torch::Tensor area = on.sum({1, 2});
        const torch::Tensor inside = (on & unannotated).sum({1, 2});
        torch::Tensor left_out =
            (area > 0) & (inside.to(torch::kFloat32) > options.unannotated_overlap * area);
        if (!queries.empty()) {
          left_out.index_put_({torch::tensor(queries, torch::kLong).to(device)}, false);
        }
        class_targets[i].masked_fill_(left_out, kIgnoredQuery);
        left_out_any = true;
      }
      if (queries.empty()) continue;
      const torch::Tensor qi =
          torch::tensor(queries, torch::TensorOptions().dtype(torch::kLong)).to(device);
      const torch::Tensor ti =
          torch::tensor(indices, torch::TensorOptions().dtype(torch::kLong)).to(device);
      class_targets[i].index_put_({qi}, targets[i].labels.to(device).index_select(0, ti));
      matched_pred.push_back(p.mask_logits[i].index_select(0, qi));
      matched_target.push_back(targets[i].masks.to(device, torch::kFloat32).index_select(0, ti));
    }
    torch::Tensor weight = torch::ones({void_class + 1}, torch::TensorOptions().device(device));
    weight[void_class] = options.no_object_weight;
    // Every query left out (an image of unlabelled objects only): no classification term,
    // rather than cross_entropy's 0 / 0. Checked only when the rule left some out, so the
    // usual step does not wait on a device sync for it.
    const torch::Tensor ce =
        !left_out_any || (class_targets != kIgnoredQuery).any().item<bool>()
            ? F::cross_entropy(
                  class_logits.flatten(0, 1), class_targets.flatten(),
                  F::CrossEntropyFuncOptions().weight(weight).ignore_index(kIgnoredQuery))
            : class_logits.sum() * 0.0;
    torch::Tensor bce = p.mask_logits.sum() * 0.0, dice = bce;
    if (!matched_pred.empty()) {
      const torch::Tensor pred = torch::cat(matched_pred, 0).to(torch::kFloat32);
      torch::Tensor points;
      {
        torch::NoGradGuard no_grad;
        points = options.importance_sampling
                     ? UncertainPoints(pred.detach(), options, generator)
                     : Uniform(pred.size(0), options.num_points, generator, device);
      }
      // Targets of different images may differ in size: sample each image's own.
      std::vector<torch::Tensor> labels;
      int64_t start = 0;
      for (const torch::Tensor& t : matched_target) {
        labels.push_back(SamplePoints(t, points.narrow(0, start, t.size(0))));
        start += t.size(0);
      }
      const torch::Tensor point_labels = torch::cat(labels, 0);
      const torch::Tensor point_logits = SamplePoints(pred, points);
      bce = F::binary_cross_entropy_with_logits(
                point_logits, point_labels,
                F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone))
                .mean(1)
                .sum() /
            num_masks;
      const torch::Tensor sig = point_logits.sigmoid();
      const torch::Tensor numerator = 2.0 * (sig * point_labels).sum(-1);
      const torch::Tensor denominator = sig.sum(-1) + point_labels.sum(-1);
      dice = (1.0 - (numerator + 1.0) / (denominator + 1.0)).sum() / num_masks;
    }
    out.classification = out.classification + ce;
    out.mask_bce = out.mask_bce + bce;
    out.mask_dice = out.mask_dice + dice;
    out.total = out.total + options.class_weight * ce + options.mask_weight * bce +
                options.dice_weight * dice;
  }
  return out;
}

}  // namespace ovseg
