// The SegmentationPipeline the server runs: CLIP-normalise the bucket-sized images, take
// each request's proposals (client regions today; Mask2Former's in a later build), classify
// them with the TeVA mask classifier against the request's class embeddings, and run
// semantic, panoptic or instance inference into plain structs.
#ifndef OVSEG_MODEL_SERVING_FOVSEG_PIPELINE_H_
#define OVSEG_MODEL_SERVING_FOVSEG_PIPELINE_H_

#include <torch/torch.h>

#include <mutex>
#include <vector>

#include "model/api/segmentation_pipeline.h"
#include "model/teva/mask_classifier.h"
#include "model/teva/mask_generator.h"

namespace ovseg {

class FovSegPipeline : public SegmentationPipeline {
 public:
  // `classifier` (and `generator`, if any) already on `device` in the model's dtype.
  // Without a generator every request must bring regions. With one, requests without
  // regions are classified over its `max_proposals` most object-like proposals.
  FovSegPipeline(MaskClassifier classifier, torch::Device device, PipelineInfo info,
                 std::shared_ptr<MaskGenerator> generator = nullptr, int max_proposals = 100);

  std::vector<absl::StatusOr<PipelineResult>> Run(absl::Span<const PipelineRequest> batch) override;
  PipelineInfo Info() const override { return info_; }

 private:
  MaskClassifier classifier_;
  std::shared_ptr<MaskGenerator> generator_;
  int max_proposals_;
  torch::Device device_;
  PipelineInfo info_;
  std::mutex mu_;  // One forward at a time; LibTorch already uses every intra-op thread.
};

// Proposal logits from binary regions: +10 inside, -10 outside (sigmoid 0.99995 / 5e-5),
// [count, height, width].
torch::Tensor RegionLogits(const RegionMasks& regions);

}  // namespace ovseg

#endif  // OVSEG_MODEL_SERVING_FOVSEG_PIPELINE_H_
