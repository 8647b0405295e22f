// MaskFormer inference from per-proposal class logits and mask logits (docs/design.md,
// "Classification"): semantic (per-pixel class scores), panoptic (object and overlap
// thresholds, stuff merged per class) and instance (top-k mask-class pairs).
#ifndef OVSEG_MODEL_MASKFORMER_POSTPROCESS_H_
#define OVSEG_MODEL_MASKFORMER_POSTPROCESS_H_

#include <torch/torch.h>

#include <vector>

#include "model/api/segmentation_pipeline.h"

namespace ovseg {

// class_logits [N, T + 1] (void last; -inf for classes that must never win), mask_logits
// [N, H, W]. Returns [T, H, W]: sum over proposals of softmax(class)[:T] x sigmoid(mask).
torch::Tensor SemanticInference(const torch::Tensor& class_logits,
                                const torch::Tensor& mask_logits);

struct PanopticSegmentInfo {
  int id = 0;  // 1-based value in segment_map
  int label = 0;
  bool is_thing = true;
  float score = 0;  // The top class probability (stuff merged: the best of its parts).
};
struct PanopticOutput {
  torch::Tensor segment_map;  // [H, W] int32, 0 = no segment
  std::vector<PanopticSegmentInfo> segments;
};

// MaskFormer's panoptic_inference: keep proposals whose top class is not void and scores
// above object_mask_threshold; give each pixel to the kept proposal with the largest
// score x mask probability; drop segments whose pixels are fewer than overlap_threshold x
// their own mask area (prob >= 0.5); merge stuff segments of one class.
PanopticOutput PanopticInference(const torch::Tensor& class_logits,
                                 const torch::Tensor& mask_logits,
                                 const std::vector<bool>& is_thing, float object_mask_threshold,
                                 float overlap_threshold);

struct InstanceOutput {
  std::vector<int> labels;
  std::vector<float> scores;  // class probability x mean mask probability inside the mask
  torch::Tensor mask_probs;   // [K, H, W] sigmoid of the chosen proposals
};

// MaskFormer's instance_inference: the top_k (proposal, class) pairs by class probability
// (void excluded), each scored by class prob x the mean mask probability over its pixels
// with logit > 0.
InstanceOutput InstanceInference(const torch::Tensor& class_logits,
                                 const torch::Tensor& mask_logits, int top_k);

// The generator's proposals as they are (task PROPOSALS): every proposal, scored by its
// objectness [N] (already best first), labelled with its top class (void excluded).
InstanceOutput ProposalInference(const torch::Tensor& class_logits,
                                 const torch::Tensor& mask_logits, const torch::Tensor& objectness);

// The plain struct the server encodes, at the masks' resolution. Semantic: each pixel takes
// its best class; a segment per class present, scored by the mean share of the winning
// class among all classes over its pixels. Segments below params.score_threshold are
// dropped (their pixels become 0) and at most params.max_segments are kept (best first).
PipelineResult ToSemanticResult(const torch::Tensor& semantic, const std::vector<bool>& is_thing,
                                const PostprocessParams& params);
PipelineResult ToPanopticResult(const PanopticOutput& panoptic, const PostprocessParams& params);
PipelineResult ToInstanceResult(const InstanceOutput& instances, const std::vector<bool>& is_thing,
                                const PostprocessParams& params);

}  // namespace ovseg

#endif  // OVSEG_MODEL_MASKFORMER_POSTPROCESS_H_
