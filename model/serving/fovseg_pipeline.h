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
#include "model/teva/teva_target_cache.h"

namespace ovseg {

struct FovSegPipelineOptions {
  // Requests without regions are classified over the generator's this many most
  // object-like proposals.
  int max_proposals = 100;
  // Budget of the per-vocabulary TeVA key/value cache (ModelConfig.teva_cache_max_bytes).
  int64_t teva_cache_bytes = int64_t{256} << 20;
};

class FovSegPipeline : public SegmentationPipeline {
 public:
  // `classifier` (and `generator`, if any) already on `device` in the model's dtype.
  // Without a generator every request must bring regions.
  FovSegPipeline(MaskClassifier classifier, torch::Device device, PipelineInfo info,
                 std::shared_ptr<MaskGenerator> generator = nullptr,
                 FovSegPipelineOptions options = {});

  std::vector<absl::StatusOr<PipelineResult>> Run(absl::Span<const PipelineRequest> batch) override;
  PipelineInfo Info() const override { return info_; }
  TevaTargetCache::Stats teva_cache_stats() const { return teva_cache_.stats(); }

 private:
  // TeVA's keys and values for the batch's vocabularies, from the cache where possible.
  std::shared_ptr<const TevaTargets> TargetsFor(absl::Span<const PipelineRequest> batch,
                                                const std::vector<size_t>& runnable);

  MaskClassifier classifier_;
  std::shared_ptr<MaskGenerator> generator_;
  int max_proposals_;
  TevaTargetCache teva_cache_;
  torch::Device device_;
  PipelineInfo info_;
  std::mutex mu_;  // One forward at a time; LibTorch already uses every intra-op thread.
};

// Proposal logits from binary regions: +10 inside, -10 outside (sigmoid 0.99995 / 5e-5),
// [count, height, width].
torch::Tensor RegionLogits(const RegionMasks& regions);

}  // namespace ovseg

#endif  // OVSEG_MODEL_SERVING_FOVSEG_PIPELINE_H_
