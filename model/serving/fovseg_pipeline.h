// The SegmentationPipeline the server runs. Per request head mode:
// - MASK: proposals (the request's regions, else the Mask2Former generator's most
//   object-like masks) classified by the TeVA mask classifier, then semantic, panoptic or
//   instance inference;
// - DENSE: the FGAseg head's per-pixel class probabilities straight to a semantic map
//   (no generator, no mask tokens);
// - MASK may ensemble each proposal's classes with CLIP's on its masked crop
//   (FovSegPipelineOptions.crop_ensemble_weight), before any fusion;
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
#include "model/maskformer/mask_generator.h"
#include "model/serving/dense_head_runner.h"
#include "model/teva/mask_classifier.h"
#include "model/teva/teva_target_cache.h"

namespace ovseg {

struct FovSegPipelineOptions {
  // Requests without regions are classified over the generator's this many most
  // object-like proposals (ModelConfig.max_proposals).
  int max_proposals = 100;
  // Budget of the per-vocabulary TeVA key/value cache (ModelConfig.teva_cache_max_bytes).
  int64_t teva_cache_bytes = int64_t{256} << 20;
  // ModelConfig.crop_ensemble_weight: > 0 also classifies every proposal from its masked
  // crop through the frozen CLIP (model/teva/crop_classifier.h) and ensembles the two
  // geometrically with this weight on the crops (1: the crops alone name the classes;
  // void stays the mask classifier's). 0: mask tokens only, as FOV-Seg.
  double crop_ensemble_weight = 0;
  // ModelConfig.crop_component_fraction: a generated proposal's crop leaves out its
  // connected components smaller than this fraction of its largest (MaskedCrops).
  double crop_component_fraction = 0;
  // ModelConfig.proposal_split_fraction: > 0 serves a generated proposal whose mask has
  // several pieces of at least this fraction of its largest as one proposal per piece
  // (model/serving/proposal_split.h), still at most max_proposals. 0: as generated.
  double proposal_split_fraction = 0;
  // ModelConfig.guided_filter_radius and _eps: > 0 snaps every generated proposal to the
  // image's colour edges (model/serving/guided_mask_filter.h) before any split. 0: off.
  int64_t guided_filter_radius = 0;
  double guided_filter_eps = 1e-3;
  // ModelConfig.objectness_weight: > 0 blends the generator's objectness into each
  // generated proposal's void (model/teva/objectness_ensemble.h), after the crop ensemble.
  double objectness_weight = 0;
  // CLIP's input side for the crops (its configured image_size), pixels.
  int64_t crop_size = 224;
  // What HeadMode::kDefault means (ModelConfig.default_head_mode): kMask or kFused;
  // kDefault: kFused when there is a dense head, else kMask. kFused without a dense
  // head is refused by the model factory.
  HeadMode default_mode = HeadMode::kDefault;
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
    int64_t crops = 0;              // proposals classified from their masked crops
  };
  StageCounts stage_counts() const;

 private:
  // TeVA's keys and values for the rows' vocabularies, from the cache where possible.
  std::shared_ptr<const TevaTargets> TargetsFor(absl::Span<const PipelineRequest> batch,
                                                const std::vector<size_t>& rows);
  absl::Status Check(const PipelineRequest& r, HeadMode mode, int width, int height) const;
  // Proposal logits at full resolution per row: its regions, else the generator's.
  // Per row: [N, height, width] mask logits (regions, or the generator's best
  // max_proposals upsampled, then guided-filtered and split into pieces as configured);
  // `objectness` gets the generator's scores of those, best first ([N] float; undefined
  // for regions).
  std::vector<torch::Tensor> Proposals(absl::Span<const PipelineRequest> batch,
                                       const std::vector<size_t>& rows, const torch::Tensor& pixels,
                                       int width, int height,
                                       std::vector<torch::Tensor>* objectness);

  // Run()'s steps, in order (BatchWork: the batch's working state, fovseg_pipeline.cc).
  struct BatchWork;
  // MASK and FUSED rows: proposals (generator or regions), the mask classifier, the crop
  // ensemble; FUSED rows keep the pass's image tokens for the dense head.
  void ClassifyProposals(absl::Span<const PipelineRequest> batch, BatchWork& work);
  // DENSE rows: CLIP's image tokens alone.
  void EncodeDenseOnly(absl::Span<const PipelineRequest> batch, BatchWork& work);
  // The dense head over every row that needs it, in one call.
  void RunDenseHead(absl::Span<const PipelineRequest> batch, BatchWork& work);
  // One row's answer in its head mode.
  PipelineResult Finish(const PipelineRequest& r, size_t i, const BatchWork& work) const;
  // The rows' images, CLIP-normalised, on the device in CLIP's dtype: [rows, 3, H, W].
  torch::Tensor PixelsOf(absl::Span<const PipelineRequest> batch, const std::vector<size_t>& rows,
                         int width, int height);

  // class_logits [N, T + 1] of one image ensembled with CLIP's answer on the masked
  // crops of its proposals (full-size logits [N, H, W]; image [3, H, W] normalised;
  // class_embeddings [T, E] on the device): log-probabilities [N, T + 1]. `generated`:
  // the proposals are the generator's (their crops drop stray components), not regions.
  torch::Tensor WithCropEnsemble(const torch::Tensor& image, const torch::Tensor& full_logits,
                                 const torch::Tensor& class_embeddings,
                                 const torch::Tensor& class_logits, bool generated);

  MaskClassifier classifier_;
  std::shared_ptr<MaskGenerator> generator_;
  std::optional<DenseHeadRunner> dense_head_;
  int max_proposals_;
  HeadMode default_mode_;
  double crop_weight_;
  double crop_component_fraction_;
  double proposal_split_fraction_;
  int64_t guided_filter_radius_;
  double guided_filter_eps_;
  double objectness_weight_;
  int64_t crop_size_;
  TevaTargetCache teva_cache_;
  torch::Device device_;
  PipelineInfo info_;
  std::mutex mu_;  // One forward at a time; LibTorch already uses every intra-op thread.
  std::atomic<int64_t> generator_images_{0}, classifier_images_{0}, image_token_images_{0},
      dense_images_{0}, crop_proposals_{0};
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
