#include "model/serving/fovseg_pipeline.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "model/clip/clip_preprocess.h"
#include "model/teva/postprocess.h"

namespace ovseg {
namespace {

namespace F = torch::nn::functional;

// The classifier reads proposals at 1/4 of the input, as mask generators emit them; max
// pooling keeps "a patch is visible iff the region has a pixel in it" exact.
constexpr int64_t kProposalStride = 4;

bool HasRegions(const PipelineRequest& r) { return r.regions != nullptr && r.regions->count > 0; }

absl::Status Check(const PipelineRequest& r, int width, int height, bool has_generator) {
  if (r.image == nullptr || r.vocabulary == nullptr || r.vocabulary->num_labels <= 0) {
    return absl::InvalidArgumentError("pipeline: request without image or labels");
  }
  if (r.image->width != width || r.image->height != height) {
    return absl::InvalidArgumentError(absl::StrCat("pipeline: image ", r.image->width, "x",
                                                   r.image->height, " in a batch of ", width, "x",
                                                   height));
  }
  if (!HasRegions(r) && !has_generator) {
    return absl::FailedPreconditionError(
        "this model has no mask generator yet (Mask2Former lands in a later build): send the "
        "regions to classify in SegmentRequest.regions");
  }
  if (HasRegions(r) && (r.regions->width != width || r.regions->height != height)) {
    return absl::InvalidArgumentError("pipeline: regions do not match the image size");
  }
  if (r.head_mode == HeadMode::kDense) {
    return absl::UnimplementedError(
        "head_mode DENSE needs the FGAseg head, which is not in this build; use MASK");
  }
  return absl::OkStatus();
}

PipelineResult PostProcess(const PipelineRequest& r, const torch::Tensor& class_logits,
                           const torch::Tensor& mask_logits) {
  switch (r.task) {
    case SegmentTask::kSemantic:
      return ToSemanticResult(SemanticInference(class_logits, mask_logits), r.is_thing, r.params);
    case SegmentTask::kPanoptic:
      return ToPanopticResult(
          PanopticInference(class_logits, mask_logits, r.is_thing, r.params.object_mask_threshold,
                            r.params.overlap_threshold),
          r.params);
    case SegmentTask::kInstance:
      return ToInstanceResult(InstanceInference(class_logits, mask_logits, r.params.max_segments),
                              r.is_thing, r.params);
  }
  return {};
}

}  // namespace

torch::Tensor RegionLogits(const RegionMasks& regions) {
  const torch::Tensor bytes =
      torch::from_blob(const_cast<uint8_t*>(regions.data.data()),
                       {regions.count, regions.height, regions.width}, torch::kUInt8);
  return bytes.to(torch::kFloat32) * 20.0f - 10.0f;
}

FovSegPipeline::FovSegPipeline(MaskClassifier classifier, torch::Device device, PipelineInfo info,
                               std::shared_ptr<MaskGenerator> generator,
                               FovSegPipelineOptions options)
    : classifier_(std::move(classifier)),
      generator_(std::move(generator)),
      max_proposals_(std::max(1, options.max_proposals)),
      teva_cache_(options.teva_cache_bytes),
      device_(device),
      info_(std::move(info)) {
  classifier_->eval();
  info_.generates_masks = generator_ != nullptr;
}

std::shared_ptr<const TevaTargets> FovSegPipeline::TargetsFor(
    absl::Span<const PipelineRequest> batch, const std::vector<size_t>& runnable) {
  const auto dtype = classifier_->clip->proj.scalar_type();
  std::vector<std::shared_ptr<const TevaTargets>> parts;
  for (size_t i : runnable) {
    const VocabularyEmbeddings& v = *batch[i].vocabulary;
    auto compute = [&] {
      const torch::Tensor embeddings =
          torch::from_blob(const_cast<float*>(v.data.data()), {1, v.num_labels, v.dim})
              .to(device_, dtype);
      return classifier_->ProjectTargets(
          embeddings,
          torch::ones({1, v.num_labels}, torch::TensorOptions(device_).dtype(torch::kBool)));
    };
    // A vocabulary without a key (never from the server's cache) is projected every time.
    parts.push_back(v.key.empty() ? std::make_shared<const TevaTargets>(compute())
                                  : teva_cache_.Get(v.key, compute));
  }
  return BatchTevaTargets(parts);
}

std::vector<absl::StatusOr<PipelineResult>> FovSegPipeline::Run(
    absl::Span<const PipelineRequest> batch) {
  std::vector<absl::StatusOr<PipelineResult>> results(batch.size(), absl::InternalError("not run"));
  if (batch.empty()) return results;
  const int width = batch[0].image ? batch[0].image->width : 0;
  const int height = batch[0].image ? batch[0].image->height : 0;
  std::vector<size_t> runnable;
  for (size_t i = 0; i < batch.size(); ++i) {
    absl::Status s = Check(batch[i], width, height, generator_ != nullptr);
    if (s.ok()) {
      runnable.push_back(i);
    } else {
      results[i] = s;
    }
  }
  if (runnable.empty()) return results;
  try {
    torch::InferenceMode inference;
    const auto dtype = classifier_->clip->proj.scalar_type();
    const int64_t b = static_cast<int64_t>(runnable.size());
    std::vector<torch::Tensor> images;
    for (size_t i : runnable) {
      images.push_back(ClipNormalize(batch[i].image->pixels.data(), width, height));
    }
    const torch::Tensor pixels = torch::cat(images, 0).to(device_, dtype);
    // Proposals at full resolution (for post-processing), per request: its regions, else
    // the generator's most object-like masks upsampled from their stride.
    std::vector<torch::Tensor> full_masks(b);
    std::vector<int64_t> generated;
    for (int64_t k = 0; k < b; ++k) {
      if (HasRegions(batch[runnable[k]])) {
        full_masks[k] = RegionLogits(*batch[runnable[k]].regions);
      } else {
        generated.push_back(k);
      }
    }
    if (!generated.empty()) {
      std::vector<torch::Tensor> subset;
      for (int64_t k : generated) subset.push_back(pixels[k]);
      std::vector<MaskProposals> proposals;
      {
        std::lock_guard<std::mutex> lock(mu_);
        proposals = generator_->Generate(torch::stack(subset));
      }
      for (size_t j = 0; j < generated.size(); ++j) {
        const MaskProposals& p = proposals.at(j);
        const int64_t keep = std::min<int64_t>(max_proposals_, p.objectness.size(0));
        const torch::Tensor order = std::get<1>(p.objectness.to(torch::kFloat32).topk(keep));
        torch::Tensor logits = p.logits.index_select(0, order).to(torch::kFloat32).unsqueeze(1);
        logits = F::interpolate(logits, F::InterpolateFuncOptions()
                                            .size(std::vector<int64_t>{height, width})
                                            .mode(torch::kBilinear)
                                            .align_corners(false));
        full_masks[generated[j]] = logits.squeeze(1).to(torch::kCPU);
      }
    }
    int64_t max_regions = 0, max_labels = 0, dim = 0;
    for (int64_t k = 0; k < b; ++k) {
      max_regions = std::max<int64_t>(max_regions, full_masks[k].size(0));
      max_labels = std::max<int64_t>(max_labels, batch[runnable[k]].vocabulary->num_labels);
      dim = batch[runnable[k]].vocabulary->dim;
    }
    const int64_t ph = height / kProposalStride, pw = width / kProposalStride;
    MaskClassifierInput in;
    in.mask_logits = torch::full({b, max_regions, ph, pw}, -10.0f);
    in.proposal_valid = torch::zeros({b, max_regions}, torch::kBool);
    in.class_embeddings = torch::zeros({b, max_labels, dim});
    in.class_valid = torch::zeros({b, max_labels}, torch::kBool);
    for (int64_t k = 0; k < b; ++k) {
      const PipelineRequest& r = batch[runnable[k]];
      const torch::Tensor& full = full_masks[k];
      const int64_t n = full.size(0), t = r.vocabulary->num_labels;
      in.mask_logits[k].narrow(0, 0, n).copy_(
          F::max_pool2d(full.unsqueeze(1), F::MaxPool2dFuncOptions(kProposalStride)).squeeze(1));
      in.proposal_valid[k].narrow(0, 0, n).fill_(true);
      in.class_embeddings[k].narrow(0, 0, t).copy_(
          torch::from_blob(const_cast<float*>(r.vocabulary->data.data()), {t, dim}));
      in.class_valid[k].narrow(0, 0, t).fill_(true);
    }
    in.images = pixels;
    in.mask_logits = in.mask_logits.to(device_, dtype);
    in.proposal_valid = in.proposal_valid.to(device_);
    in.class_embeddings = in.class_embeddings.to(device_, dtype);
    in.class_valid = in.class_valid.to(device_);
    if (classifier_->config().use_teva) in.teva_targets = TargetsFor(batch, runnable);
    torch::Tensor logits;
    {
      std::lock_guard<std::mutex> lock(mu_);
      logits = classifier_->forward(in).class_logits.to(torch::kCPU, torch::kFloat32);
    }
    for (int64_t k = 0; k < b; ++k) {
      const PipelineRequest& r = batch[runnable[k]];
      const int64_t n = full_masks[k].size(0), t = r.vocabulary->num_labels;
      const torch::Tensor rows = logits[k].narrow(0, 0, n);
      // This request's classes, then void (at max_labels in the padded batch).
      const torch::Tensor cls =
          torch::cat({rows.narrow(1, 0, t), rows.narrow(1, max_labels, 1)}, 1);
      results[runnable[k]] = PostProcess(r, cls, full_masks[k]);
    }
  } catch (const c10::Error& e) {
    for (size_t i : runnable) {
      results[i] = absl::InternalError(absl::StrCat("pipeline: ", e.what_without_backtrace()));
    }
  }
  return results;
}

}  // namespace ovseg
