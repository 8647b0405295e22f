// The SegmentationPipeline the server runs. Per request head mode:
// - MASK: proposals (the request's regions, else the Mask2Former generator's most
//   object-like masks) classified by the TeVA mask classifier, then semantic, panoptic or
//   instance inference;
// - DENSE: the FGAseg head's per-pixel class probabilities straight to a semantic map
//   (no generator, no mask tokens);
// - FUSED: MASK, with each proposal's classes ensembled with the dense probabilities
//   pooled inside it (model/fgaseg/fusion.h).
// One CLIP pass per image feeds both heads: the dense head reads the image tokens of the
// mask classifier's forward. Each mode does only the work it needs, and one batch may mix
// modes and vocabularies.
#ifndef OVSEG_MODEL_SERVING_FOVSEG_PIPELINE_H_
#define OVSEG_MODEL_SERVING_FOVSEG_PIPELINE_H_

#include <torch/torch.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <vector>

#include "model/api/segmentation_pipeline.h"
#include "model/serving/dense_head_runner.h"
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
  // `classifier` (and `generator` and the dense head, if any) already on `device` in the
  // model's dtype. Without a generator every MASK or FUSED request must bring regions;
  // without a dense head only MASK is offered. Info().head_modes is filled here.
  FovSegPipeline(MaskClassifier classifier, torch::Device device, PipelineInfo info,
                 std::shared_ptr<MaskGenerator> generator = nullptr,
                 FovSegPipelineOptions options = {},
                 std::optional<DenseHeadRunner> dense_head = std::nullopt);

  std::vector<absl::StatusOr<PipelineResult>> Run(absl::Span<const PipelineRequest> batch) override;
  PipelineInfo Info() const override { return info_; }
  TevaTargetCache::Stats teva_cache_stats() const { return teva_cache_.stats(); }

  // Images that went through each stage since construction: what lets a test see that a
  // mode skips the work it does not need.
  struct StageCounts {
    int64_t generator = 0;          // Mask2Former proposals
    int64_t mask_classifier = 0;    // CLIP with mask tokens
    int64_t image_tokens_only = 0;  // CLIP without mask tokens (DENSE-only rows)
    int64_t dense_head = 0;         // FGAseg head
  };
  StageCounts stage_counts() const;

 private:
  // TeVA's keys and values for the rows' vocabularies, from the cache where possible.
  std::shared_ptr<const TevaTargets> TargetsFor(absl::Span<const PipelineRequest> batch,
                                                const std::vector<size_t>& rows);
  absl::Status Check(const PipelineRequest& r, HeadMode mode, int width, int height) const;
  // Proposal logits at full resolution per row: its regions, else the generator's.
  // Per row: [N, height, width] mask logits (regions, or the generator's best
  // max_proposals upsampled); `objectness` gets the generator's scores of those, best
  // first ([N] float; undefined for regions).
  std::vector<torch::Tensor> Proposals(absl::Span<const PipelineRequest> batch,
                                       const std::vector<size_t>& rows, const torch::Tensor& pixels,
                                       int width, int height,
                                       std::vector<torch::Tensor>* objectness);

  MaskClassifier classifier_;
  std::shared_ptr<MaskGenerator> generator_;
  std::optional<DenseHeadRunner> dense_head_;
  int max_proposals_;
  TevaTargetCache teva_cache_;
  torch::Device device_;
  PipelineInfo info_;
  std::mutex mu_;  // One forward at a time; LibTorch already uses every intra-op thread.
  std::atomic<int64_t> generator_images_{0}, classifier_images_{0}, image_token_images_{0},
      dense_images_{0};
};

// Proposal logits from binary regions: +10 inside, -10 outside (sigmoid 0.99995 / 5e-5),
// [count, height, width].
torch::Tensor RegionLogits(const RegionMasks& regions);

// The generator's proposal logits [N, h, w] (at its stride) at the image size [N, height,
// width]: bilinear, as the served masks are.
torch::Tensor UpsampleProposals(const torch::Tensor& logits, int64_t height, int64_t width);
// What the classifier reads of full-size proposal logits [N, H, W]: [N, H / 4, W / 4], max
// pooled, so "a patch is visible iff the mask has a pixel in it" stays exact. Training
// (model/train/fovseg_stage.cc) feeds the classifier through both functions too, so it
// sees exactly what serving sees.
torch::Tensor ClassifierProposalInput(const torch::Tensor& full_logits);

}  // namespace ovseg

#endif  // OVSEG_MODEL_SERVING_FOVSEG_PIPELINE_H_
