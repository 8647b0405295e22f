#include "model/maskformer/postprocess.h"

#include <algorithm>
#include <limits>
#include <map>
#include <numeric>

namespace ovseg {

torch::Tensor SemanticInference(const torch::Tensor& class_logits,
                                const torch::Tensor& mask_logits) {
  const int64_t classes = class_logits.size(1) - 1;
  const torch::Tensor probs =
      torch::softmax(class_logits.to(torch::kFloat32), -1).narrow(1, 0, classes);
  const torch::Tensor masks = torch::sigmoid(mask_logits.to(torch::kFloat32));
  return torch::einsum("qc,qhw->chw", {probs, masks});
}

PanopticOutput PanopticInference(const torch::Tensor& class_logits,
                                 const torch::Tensor& mask_logits,
                                 const std::vector<bool>& is_thing, float object_mask_threshold,
                                 float overlap_threshold) {
  const int64_t classes = class_logits.size(1) - 1;
  const int64_t h = mask_logits.size(1), w = mask_logits.size(2);
  PanopticOutput out;
  out.segment_map = torch::zeros({h, w}, torch::kInt32);
  const auto [scores, labels] = torch::softmax(class_logits.to(torch::kFloat32), -1).max(-1);
  const torch::Tensor keep = (labels != classes) & (scores > object_mask_threshold);
  if (!keep.any().item<bool>()) return out;
  const torch::Tensor cur_scores = scores.index({keep});
  const torch::Tensor cur_classes = labels.index({keep});
  const torch::Tensor cur_masks = torch::sigmoid(mask_logits.to(torch::kFloat32)).index({keep});
  const torch::Tensor owner = (cur_scores.view({-1, 1, 1}) * cur_masks).argmax(0);
  std::map<int, int> stuff_ids;  // label -> segment id
  int current = 0;
  for (int64_t k = 0; k < cur_classes.size(0); ++k) {
    const int label = static_cast<int>(cur_classes[k].item<int64_t>());
    const bool thing = label < static_cast<int>(is_thing.size()) ? is_thing[label] : true;
    const torch::Tensor mine = owner == k;
    const torch::Tensor own_mask = cur_masks[k] >= 0.5;
    const double mask_area = mine.sum().item<double>();
    const double original_area = own_mask.sum().item<double>();
    const torch::Tensor mask = mine & own_mask;
    if (mask_area <= 0 || original_area <= 0 || !mask.any().item<bool>()) continue;
    if (mask_area / original_area < overlap_threshold) continue;
    const float score = cur_scores[k].item<float>();
    if (!thing) {
      auto it = stuff_ids.find(label);
      if (it != stuff_ids.end()) {
        out.segment_map.masked_fill_(mask, it->second);
        PanopticSegmentInfo& merged = out.segments[it->second - 1];
        merged.score = std::max(merged.score, score);
        continue;
      }
      stuff_ids[label] = current + 1;
    }
    ++current;
    out.segment_map.masked_fill_(mask, current);
    out.segments.push_back({current, label, thing, score});
  }
  return out;
}

InstanceOutput InstanceInference(const torch::Tensor& class_logits,
                                 const torch::Tensor& mask_logits, int top_k) {
  const int64_t classes = class_logits.size(1) - 1;
  const torch::Tensor probs =
      torch::softmax(class_logits.to(torch::kFloat32), -1).narrow(1, 0, classes);
  const int64_t k = std::min<int64_t>(top_k, probs.numel());
  const auto [top_scores, top_index] = probs.flatten().topk(k);
  const torch::Tensor labels = top_index % classes;
  const torch::Tensor proposals = torch::div(top_index, classes, "floor");
  const torch::Tensor chosen = mask_logits.to(torch::kFloat32).index_select(0, proposals);
  const torch::Tensor inside = (chosen > 0).to(torch::kFloat32).flatten(1);
  InstanceOutput out;
  out.mask_probs = torch::sigmoid(chosen);
  const torch::Tensor mask_scores =
      (out.mask_probs.flatten(1) * inside).sum(1) / (inside.sum(1) + 1e-6);
  const torch::Tensor scores = top_scores * mask_scores;
  for (int64_t i = 0; i < k; ++i) {
    out.labels.push_back(static_cast<int>(labels[i].item<int64_t>()));
    out.scores.push_back(scores[i].item<float>());
  }
  return out;
}

InstanceOutput ProposalInference(const torch::Tensor& class_logits,
                                 const torch::Tensor& mask_logits,
                                 const torch::Tensor& objectness) {
  const int64_t classes = class_logits.size(1) - 1;
  const torch::Tensor labels =
      class_logits.to(torch::kFloat32).narrow(1, 0, classes).argmax(1).to(torch::kCPU);
  const torch::Tensor scores = objectness.to(torch::kCPU, torch::kFloat32).contiguous();
  InstanceOutput out;
  out.mask_probs = torch::sigmoid(mask_logits.to(torch::kFloat32));
  for (int64_t i = 0; i < scores.size(0); ++i) {
    out.labels.push_back(static_cast<int>(labels[i].item<int64_t>()));
    out.scores.push_back(scores[i].item<float>());
  }
  return out;
}

PipelineResult ToSemanticResult(const torch::Tensor& semantic, const std::vector<bool>& is_thing,
                                const PostprocessParams& params) {
  const int64_t classes = semantic.size(0), h = semantic.size(1), w = semantic.size(2);
  PipelineResult result;
  result.width = static_cast<int>(w);
  result.height = static_cast<int>(h);
  const auto [best, label] = semantic.max(0);
  const torch::Tensor share = best / semantic.sum(0).clamp_min(1e-12);
  const torch::Tensor flat_label = label.flatten();
  const torch::Tensor area = torch::bincount(flat_label, {}, classes).to(torch::kFloat64);
  const torch::Tensor share_sum =
      torch::bincount(flat_label, share.flatten().to(torch::kFloat64), classes);
  std::vector<int> present;  // labels that own a pixel, and their scores
  std::vector<float> scores;
  for (int64_t t = 0; t < classes; ++t) {
    const double a = area[t].item<double>();
    if (a <= 0) continue;
    present.push_back(static_cast<int>(t));
    scores.push_back(static_cast<float>(share_sum[t].item<double>() / a));
  }
  const std::vector<int> ranked =
      RankedAtOrAbove(scores, params.score_threshold, params.max_segments);
  std::vector<int32_t> id_of_label(classes, 0);
  for (size_t i = 0; i < ranked.size(); ++i) {
    const int t = present[ranked[i]];
    id_of_label[t] = static_cast<int32_t>(i + 1);
    PipelineSegment s;
    s.label_index = t;
    s.score = scores[ranked[i]];
    s.is_thing = t < static_cast<int>(is_thing.size()) ? is_thing[t] : false;
    result.segments.push_back(std::move(s));
  }
  const torch::Tensor lookup = torch::tensor(id_of_label);
  const torch::Tensor ids = lookup.index({flat_label}).to(torch::kInt32).contiguous();
  result.segment_id_map.assign(ids.data_ptr<int32_t>(), ids.data_ptr<int32_t>() + ids.numel());
  return result;
}

PipelineResult ToPanopticResult(const PanopticOutput& panoptic, const PostprocessParams& params) {
  PipelineResult result;
  result.height = static_cast<int>(panoptic.segment_map.size(0));
  result.width = static_cast<int>(panoptic.segment_map.size(1));
  std::vector<float> scores;
  for (const PanopticSegmentInfo& s : panoptic.segments) scores.push_back(s.score);
  std::vector<const PanopticSegmentInfo*> kept;
  for (int i : RankedAtOrAbove(scores, params.score_threshold, params.max_segments)) {
    kept.push_back(&panoptic.segments[static_cast<size_t>(i)]);
  }
  std::vector<int32_t> new_id(panoptic.segments.size() + 1, 0);
  for (size_t i = 0; i < kept.size(); ++i) {
    new_id[kept[i]->id] = static_cast<int32_t>(i + 1);
    result.segments.push_back({kept[i]->label, kept[i]->score, kept[i]->is_thing, {}});
  }
  const torch::Tensor ids = torch::tensor(new_id)
                                .index({panoptic.segment_map.flatten().to(torch::kLong)})
                                .to(torch::kInt32)
                                .contiguous();
  result.segment_id_map.assign(ids.data_ptr<int32_t>(), ids.data_ptr<int32_t>() + ids.numel());
  return result;
}

PipelineResult ToInstanceResult(const InstanceOutput& instances, const std::vector<bool>& is_thing,
                                const PostprocessParams& params) {
  PipelineResult result;
  if (instances.mask_probs.defined() && instances.mask_probs.dim() == 3) {
    result.height = static_cast<int>(instances.mask_probs.size(1));
    result.width = static_cast<int>(instances.mask_probs.size(2));
  }
  // A pair that scores 0 (its mask empty) is no instance, whatever the threshold.
  std::vector<float> scores(instances.scores.begin(), instances.scores.end());
  for (float& score : scores) {
    if (score <= 0) score = -std::numeric_limits<float>::infinity();
  }
  for (int ranked : RankedAtOrAbove(scores, params.score_threshold, params.max_segments)) {
    const size_t i = static_cast<size_t>(ranked);
    PipelineSegment s;
    s.label_index = instances.labels[i];
    s.score = instances.scores[i];
    s.is_thing = s.label_index < static_cast<int>(is_thing.size()) ? is_thing[s.label_index] : true;
    const torch::Tensor bytes = (instances.mask_probs[static_cast<int64_t>(i)] * 255.0f)
                                    .round()
                                    .to(torch::kUInt8)
                                    .contiguous();
    s.soft_mask.assign(bytes.data_ptr<uint8_t>(), bytes.data_ptr<uint8_t>() + bytes.numel());
    result.segments.push_back(std::move(s));
  }
  return result;
}

}  // namespace ovseg
