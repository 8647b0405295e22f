#include "model/serving/fovseg_pipeline.h"

#include <algorithm>
#include <new>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "model/clip/clip_preprocess.h"
#include "model/maskformer/postprocess.h"
#include "model/serving/guided_mask_filter.h"
#include "model/serving/proposal_split.h"
#include "model/serving/resize_maps.h"
#include "model/teva/crop_classifier.h"
#include "model/teva/objectness_ensemble.h"

namespace ovseg {
namespace {

namespace F = torch::nn::functional;

// The classifier reads proposals at 1/4 of the input, as mask generators emit them; max
// pooling keeps "a patch is visible iff the region has a pixel in it" exact.
constexpr int64_t kProposalStride = 4;

bool HasRegions(const PipelineRequest& r) { return r.regions != nullptr && r.regions->count > 0; }

HeadMode Resolve(HeadMode mode, HeadMode default_mode, bool has_dense_head) {
  if (mode != HeadMode::kDefault) return mode;
  if (default_mode != HeadMode::kDefault) return default_mode;
  return has_dense_head ? HeadMode::kFused : HeadMode::kMask;
}

const char* ModeName(HeadMode mode) {
  switch (mode) {
    case HeadMode::kMask:
      return "MASK";
    case HeadMode::kDense:
      return "DENSE";
    case HeadMode::kFused:
      return "FUSED";
    case HeadMode::kDefault:
      break;
  }
  return "default";
}

PipelineResult PostProcess(const PipelineRequest& r, const torch::Tensor& class_logits,
                           const torch::Tensor& mask_logits, const torch::Tensor& objectness) {
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
    case SegmentTask::kProposals:
      return ToInstanceResult(ProposalInference(class_logits, mask_logits, objectness), r.is_thing,
                              r.params);
  }
  return {};
}

// forward() returns the requested blocks' tokens in block order, once each; `layers` may
// be in any order and repeat.
std::vector<int64_t> SortedUnique(std::vector<int64_t> layers) {
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  return layers;
}
std::vector<torch::Tensor> InLayerOrder(const std::vector<int64_t>& layers,
                                        const std::vector<int64_t>& sorted_unique,
                                        const std::vector<torch::Tensor>& features) {
  std::vector<torch::Tensor> out;
  for (int64_t layer : layers) {
    const auto it = std::lower_bound(sorted_unique.begin(), sorted_unique.end(), layer);
    out.push_back(features.at(static_cast<size_t>(it - sorted_unique.begin())));
  }
  return out;
}

torch::Tensor SelectRows(const torch::Tensor& t, const std::vector<int64_t>& rows) {
  return t.index_select(0, torch::tensor(rows, torch::kLong).to(t.device()));
}

// Per-pixel maps [..., H, W] cut to the request's content corner (the padding is not the
// image: no result may cover it).
torch::Tensor ToContent(const torch::Tensor& maps, const PipelineRequest& r) {
  return maps.narrow(-2, 0, r.ContentHeight()).narrow(-1, 0, r.ContentWidth()).contiguous();
}

void FailAll(const std::vector<size_t>& rows, const absl::Status& status,
             std::vector<absl::StatusOr<PipelineResult>>& results) {
  for (size_t i : rows) results[i] = status;
}

}  // namespace

torch::Tensor UpsampleProposals(const torch::Tensor& logits, int64_t height, int64_t width) {
  return ResizeMaps(logits.to(torch::kFloat32), height, width);
}

torch::Tensor ClassifierProposalInput(const torch::Tensor& full_logits) {
  return F::max_pool2d(full_logits.unsqueeze(1), F::MaxPool2dFuncOptions(kProposalStride))
      .squeeze(1);
}

torch::Tensor RegionLogits(const RegionMasks& regions) {
  const torch::Tensor bytes =
      torch::from_blob(const_cast<uint8_t*>(regions.data.data()),
                       {regions.count, regions.height, regions.width}, torch::kUInt8);
  return bytes.to(torch::kFloat32) * 20.0f - 10.0f;
}

FovSegPipeline::FovSegPipeline(MaskClassifier classifier, torch::Device device, PipelineInfo info,
                               std::shared_ptr<MaskGenerator> generator,
                               FovSegPipelineOptions options,
                               std::optional<DenseHeadRunner> dense_head)
    : classifier_(std::move(classifier)),
      generator_(std::move(generator)),
      dense_head_(std::move(dense_head)),
      max_proposals_(std::max(1, options.max_proposals)),
      default_mode_(options.default_mode),
      crop_weight_(options.crop_ensemble_weight),
      crop_component_fraction_(options.crop_component_fraction),
      proposal_split_fraction_(options.proposal_split_fraction),
      guided_filter_radius_(options.guided_filter_radius),
      guided_filter_eps_(options.guided_filter_eps),
      objectness_weight_(options.objectness_weight),
      crop_size_(options.crop_size),
      teva_cache_(options.teva_cache_bytes),
      device_(device),
      info_(std::move(info)) {
  classifier_->eval();
  info_.generates_masks = generator_ != nullptr;
  info_.head_modes = {HeadMode::kMask};
  if (dense_head_) info_.head_modes = {HeadMode::kMask, HeadMode::kDense, HeadMode::kFused};
}

FovSegPipeline::StageCounts FovSegPipeline::stage_counts() const {
  return {generator_images_.load(), classifier_images_.load(), image_token_images_.load(),
          dense_images_.load(), crop_proposals_.load()};
}

absl::Status FovSegPipeline::Check(const PipelineRequest& r, HeadMode mode, int width,
                                   int height) const {
  if (r.image == nullptr || r.vocabulary == nullptr || r.vocabulary->num_labels <= 0) {
    return absl::InvalidArgumentError("pipeline: request without image or labels");
  }
  if (r.image->width != width || r.image->height != height) {
    return absl::InvalidArgumentError(absl::StrCat("pipeline: image ", r.image->width, "x",
                                                   r.image->height, " in a batch of ", width, "x",
                                                   height));
  }
  if (r.content_width < 0 || r.content_width > width || r.content_height < 0 ||
      r.content_height > height) {
    return absl::InvalidArgumentError(absl::StrCat("pipeline: content ", r.content_width, "x",
                                                   r.content_height, " outside the ", width, "x",
                                                   height, " image"));
  }
  if (mode != HeadMode::kMask && !dense_head_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "head_mode ", ModeName(mode),
        " needs the FGAseg dense head, and this model has none (model.checkpoint holds no "
        "fgaseg.* tensors); use MASK"));
  }
  if (mode == HeadMode::kDense) {
    if (absl::Status s = CheckHeadModeTask(mode, r.task); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("head_mode ", s.message()));
    }
    if (HasRegions(r)) {
      return absl::InvalidArgumentError(
          "regions are classified by the mask classifier, which head_mode DENSE skips; use "
          "MASK or FUSED with regions");
    }
    return absl::OkStatus();
  }
  if (!HasRegions(r) && generator_ == nullptr) {
    return absl::FailedPreconditionError(
        "this model has no mask generator (model.mask_generator_weights is not set): send the "
        "regions to classify in SegmentRequest.regions");
  }
  if (r.task == SegmentTask::kProposals && (HasRegions(r) || generator_ == nullptr)) {
    return HasRegions(r) ? absl::InvalidArgumentError(
                               "task PROPOSALS returns the generator's proposals, and regions "
                               "bypass the generator")
                         : absl::FailedPreconditionError(
                               "task PROPOSALS needs a mask generator, and this model has none "
                               "(model.mask_generator_weights is not set)");
  }
  if (HasRegions(r) && (r.regions->width != width || r.regions->height != height)) {
    return absl::InvalidArgumentError("pipeline: regions do not match the image size");
  }
  return absl::OkStatus();
}

std::shared_ptr<const TevaTargets> FovSegPipeline::TargetsFor(
    absl::Span<const PipelineRequest> batch, const std::vector<size_t>& rows) {
  const auto dtype = classifier_->clip->proj.scalar_type();
  std::vector<std::shared_ptr<const TevaTargets>> parts;
  for (size_t i : rows) {
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

torch::Tensor FovSegPipeline::WithCropEnsemble(const torch::Tensor& image,
                                               const torch::Tensor& full_logits,
                                               const torch::Tensor& class_embeddings,
                                               const torch::Tensor& class_logits, bool generated) {
  torch::Tensor has_area;
  const torch::Tensor crops = MaskedCrops(image, full_logits, crop_size_, &has_area,
                                          generated ? crop_component_fraction_ : 0.0);
  torch::Tensor crop_logits;
  {
    std::lock_guard<std::mutex> lock(mu_);
    crop_logits = CropClassLogits(classifier_->clip, crops, class_embeddings,
                                  classifier_->config().temperature);
  }
  crop_proposals_ += crops.size(0);
  // A proposal with no pixel has no crop: the mask classifier alone names it.
  const torch::Tensor weights =
      has_area.to(torch::kCPU, torch::kFloat32).unsqueeze(1) * crop_weight_;
  return EnsembleClassLogProbabilities(class_logits,
                                       torch::softmax(crop_logits.to(torch::kCPU), -1), weights);
}

std::vector<torch::Tensor> FovSegPipeline::Proposals(absl::Span<const PipelineRequest> batch,
                                                     const std::vector<size_t>& rows,
                                                     const torch::Tensor& pixels, int width,
                                                     int height,
                                                     std::vector<torch::Tensor>* objectness) {
  std::vector<torch::Tensor> full_masks(rows.size());
  objectness->assign(rows.size(), torch::Tensor());
  std::vector<int64_t> generated;
  for (size_t k = 0; k < rows.size(); ++k) {
    if (HasRegions(batch[rows[k]])) {
      full_masks[k] = RegionLogits(*batch[rows[k]].regions);
    } else {
      generated.push_back(static_cast<int64_t>(k));
    }
  }
  if (generated.empty()) return full_masks;
  std::vector<MaskProposals> proposals;
  {
    std::lock_guard<std::mutex> lock(mu_);
    proposals = generator_->Generate(SelectRows(pixels, generated));
  }
  generator_images_ += static_cast<int64_t>(generated.size());
  for (size_t j = 0; j < generated.size(); ++j) {
    const MaskProposals& p = proposals.at(j);
    const int64_t keep = std::min<int64_t>(max_proposals_, p.objectness.size(0));
    const auto [scores, order] = p.objectness.to(torch::kFloat32).topk(keep);
    torch::Tensor masks =
        UpsampleProposals(p.logits.index_select(0, order), height, width).to(torch::kCPU);
    torch::Tensor row_scores = scores.to(torch::kCPU);
    if (guided_filter_radius_ > 0) {
      masks = GuidedFilterMaskLogits(batch[rows[generated[j]]].image->pixels.data(), height, width,
                                     masks, guided_filter_radius_, guided_filter_eps_);
    }
    if (proposal_split_fraction_ > 0) {
      SplitProposals split =
          SplitProposalPieces(masks, row_scores, proposal_split_fraction_, max_proposals_);
      masks = std::move(split.logits);
      row_scores = std::move(split.objectness);
    }
    (*objectness)[generated[j]] = std::move(row_scores);
    full_masks[generated[j]] = std::move(masks);
  }
  return full_masks;
}

// One batch on its way through Run(): rows index the batch.
struct FovSegPipeline::BatchWork {
  int width = 0, height = 0;
  std::vector<HeadMode> modes;
  // Rows that passed their checks; of those, the mask classifier's (MASK, FUSED) and the
  // dense head's alone (DENSE).
  std::vector<size_t> runnable, mask_rows, dense_only_rows;
  // CLIP blocks whose image tokens the dense head reads (DenseHeadRunner::TokenLayers).
  std::vector<int64_t> token_layers;
  // The dense head's batch: its rows (FUSED rows first, in mask_rows order, then DENSE
  // rows) and their image tokens, per part and per layer, on a gh x gw grid.
  std::vector<size_t> dense_rows;
  std::vector<std::vector<torch::Tensor>> dense_tokens;
  int64_t gh = 0, gw = 0;
  // Per row: the classifier's logits [N, T + 1], full-size proposal logits [N, H, W], the
  // generator's objectness [N]; the dense head's class probabilities [T, H / 4, W / 4].
  std::vector<torch::Tensor> class_logits, full_masks, objectness, dense_probs;
};

std::vector<absl::StatusOr<PipelineResult>> FovSegPipeline::Run(
    absl::Span<const PipelineRequest> batch) {
  std::vector<absl::StatusOr<PipelineResult>> results(batch.size(), absl::InternalError("not run"));
  if (batch.empty()) return results;
  BatchWork work;
  work.width = batch[0].image ? batch[0].image->width : 0;
  work.height = batch[0].image ? batch[0].image->height : 0;
  work.modes.resize(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    work.modes[i] = Resolve(batch[i].head_mode, default_mode_, dense_head_.has_value());
    if (absl::Status s = Check(batch[i], work.modes[i], work.width, work.height); !s.ok()) {
      results[i] = s;
      continue;
    }
    work.runnable.push_back(i);
    (work.modes[i] == HeadMode::kDense ? work.dense_only_rows : work.mask_rows).push_back(i);
  }
  if (work.runnable.empty()) return results;
  try {
    torch::InferenceMode inference;
    for (auto* v : {&work.class_logits, &work.full_masks, &work.objectness, &work.dense_probs}) {
      v->resize(batch.size());
    }
    if (dense_head_) work.token_layers = dense_head_->TokenLayers(classifier_->clip);
    if (!work.mask_rows.empty()) ClassifyProposals(batch, work);
    if (!work.dense_only_rows.empty()) EncodeDenseOnly(batch, work);
    if (!work.dense_rows.empty()) RunDenseHead(batch, work);
    for (size_t i : work.runnable) results[i] = Finish(batch[i], i, work);
  } catch (const c10::OutOfMemoryError& e) {
    // The device ran out (CUDA's caching allocator throws this): this batch only. Its
    // tensors are freed as the stack unwinds and stay cached for the next batch.
    FailAll(work.runnable,
            absl::ResourceExhaustedError(absl::StrCat(
                "pipeline: out of device memory for this batch (",
                absl::string_view(e.what_without_backtrace())
                    .substr(0, absl::string_view(e.what_without_backtrace()).find('\n')),
                ")")),
            results);
  } catch (const c10::Error& e) {
    FailAll(work.runnable,
            absl::InternalError(absl::StrCat("pipeline: ", e.what_without_backtrace())), results);
  } catch (const std::bad_alloc&) {
    // This batch only: the memory it held is free again once the stack has unwound.
    FailAll(work.runnable, absl::ResourceExhaustedError("pipeline: out of memory for this batch"),
            results);
  } catch (const std::exception& e) {
    // Anything else (a std::out_of_range from .at(), ...) fails the batch, not the process.
    FailAll(work.runnable, absl::InternalError(absl::StrCat("pipeline: ", e.what())), results);
  }
  return results;
}

torch::Tensor FovSegPipeline::PixelsOf(absl::Span<const PipelineRequest> batch,
                                       const std::vector<size_t>& rows, int width, int height) {
  std::vector<torch::Tensor> parts;
  for (size_t i : rows)
    parts.push_back(ClipNormalize(batch[i].image->pixels.data(), width, height));
  return torch::cat(parts, 0).to(device_, classifier_->clip->proj.scalar_type());
}

void FovSegPipeline::ClassifyProposals(absl::Span<const PipelineRequest> batch, BatchWork& work) {
  const std::vector<size_t>& rows = work.mask_rows;
  const auto dtype = classifier_->clip->proj.scalar_type();
  const torch::Tensor pixels = PixelsOf(batch, rows, work.width, work.height);
  std::vector<torch::Tensor> scores;
  const std::vector<torch::Tensor> proposals =
      Proposals(batch, rows, pixels, work.width, work.height, &scores);
  const int64_t b = static_cast<int64_t>(rows.size());
  int64_t max_regions = 0, max_labels = 0, dim = 0;
  for (int64_t k = 0; k < b; ++k) {
    max_regions = std::max<int64_t>(max_regions, proposals[k].size(0));
    max_labels = std::max<int64_t>(max_labels, batch[rows[k]].vocabulary->num_labels);
    dim = batch[rows[k]].vocabulary->dim;
  }
  // Proposals and classes padded to the batch's largest, the padding marked invalid.
  const int64_t ph = work.height / kProposalStride, pw = work.width / kProposalStride;
  MaskClassifierInput in;
  in.mask_logits = torch::full({b, max_regions, ph, pw}, -10.0f);
  in.proposal_valid = torch::zeros({b, max_regions}, torch::kBool);
  in.class_embeddings = torch::zeros({b, max_labels, dim});
  in.class_valid = torch::zeros({b, max_labels}, torch::kBool);
  std::vector<int64_t> fused;  // Rows of this batch that the dense head reads.
  for (int64_t k = 0; k < b; ++k) {
    const PipelineRequest& r = batch[rows[k]];
    const int64_t n = proposals[k].size(0), t = r.vocabulary->num_labels;
    in.mask_logits[k].narrow(0, 0, n).copy_(ClassifierProposalInput(proposals[k]));
    in.proposal_valid[k].narrow(0, 0, n).fill_(true);
    in.class_embeddings[k].narrow(0, 0, t).copy_(
        torch::from_blob(const_cast<float*>(r.vocabulary->data.data()), {t, dim}));
    in.class_valid[k].narrow(0, 0, t).fill_(true);
    if (work.modes[rows[k]] == HeadMode::kFused) fused.push_back(k);
  }
  in.images = pixels;
  in.mask_logits = in.mask_logits.to(device_, dtype);
  in.proposal_valid = in.proposal_valid.to(device_);
  in.class_embeddings = in.class_embeddings.to(device_, dtype);
  in.class_valid = in.class_valid.to(device_);
  const std::vector<int64_t> unique_layers = SortedUnique(work.token_layers);
  if (!fused.empty()) in.dense_layers = unique_layers;
  if (classifier_->config().use_teva) in.teva_targets = TargetsFor(batch, rows);
  MaskClassifierOutput out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out = classifier_->forward(in);
  }
  classifier_images_ += b;
  const torch::Tensor logits = out.class_logits.to(torch::kCPU, torch::kFloat32);
  for (int64_t k = 0; k < b; ++k) {
    const size_t i = rows[k];
    const int64_t n = proposals[k].size(0), t = batch[i].vocabulary->num_labels;
    const torch::Tensor row_logits = logits[k].narrow(0, 0, n);
    // This request's classes, then void (at max_labels in the padded batch).
    work.class_logits[i] =
        torch::cat({row_logits.narrow(1, 0, t), row_logits.narrow(1, max_labels, 1)}, 1);
    if (crop_weight_ > 0 && n > 0) {
      work.class_logits[i] =
          WithCropEnsemble(pixels[k], proposals[k], in.class_embeddings[k].narrow(0, 0, t),
                           work.class_logits[i], /*generated=*/!HasRegions(batch[i]));
    }
    // Client regions have no objectness: the classifier's void stays theirs.
    if (objectness_weight_ > 0 && scores[k].defined()) {
      work.class_logits[i] =
          WithObjectnessLogProbabilities(work.class_logits[i], scores[k], objectness_weight_);
    }
    work.full_masks[i] = proposals[k];
    work.objectness[i] = scores[k];
  }
  if (fused.empty()) return;
  // FUSED rows: the image tokens this pass already computed feed the dense head.
  std::vector<torch::Tensor> tokens;
  for (const torch::Tensor& f :
       InLayerOrder(work.token_layers, unique_layers, out.dense_features)) {
    tokens.push_back(SelectRows(f, fused));
  }
  work.dense_tokens.push_back(std::move(tokens));
  for (int64_t k : fused) work.dense_rows.push_back(rows[k]);
  work.gh = out.grid_h;
  work.gw = out.grid_w;
}

void FovSegPipeline::EncodeDenseOnly(absl::Span<const PipelineRequest> batch, BatchWork& work) {
  std::vector<torch::Tensor> tokens;
  {
    std::lock_guard<std::mutex> lock(mu_);
    tokens = classifier_->EncodeImageTokens(
        PixelsOf(batch, work.dense_only_rows, work.width, work.height), work.token_layers, &work.gh,
        &work.gw);
  }
  image_token_images_ += static_cast<int64_t>(work.dense_only_rows.size());
  work.dense_tokens.push_back(std::move(tokens));
  work.dense_rows.insert(work.dense_rows.end(), work.dense_only_rows.begin(),
                         work.dense_only_rows.end());
}

void FovSegPipeline::RunDenseHead(absl::Span<const PipelineRequest> batch, BatchWork& work) {
  std::vector<torch::Tensor> tokens;
  for (size_t layer = 0; layer < work.token_layers.size(); ++layer) {
    std::vector<torch::Tensor> parts;
    for (const auto& part : work.dense_tokens) parts.push_back(part[layer]);
    tokens.push_back(torch::cat(parts, 0));
  }
  std::vector<const VocabularyEmbeddings*> vocabularies;
  for (size_t i : work.dense_rows) vocabularies.push_back(batch[i].vocabulary.get());
  std::vector<torch::Tensor> probs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    probs =
        dense_head_->ClassProbabilities(classifier_->clip, tokens, work.gh, work.gw, vocabularies);
  }
  dense_images_ += static_cast<int64_t>(work.dense_rows.size());
  for (size_t k = 0; k < work.dense_rows.size(); ++k)
    work.dense_probs[work.dense_rows[k]] = probs[k];
}

PipelineResult FovSegPipeline::Finish(const PipelineRequest& r, size_t i,
                                      const BatchWork& work) const {
  switch (work.modes[i]) {
    case HeadMode::kDense: {
      const torch::Tensor semantic = ResizeMaps(work.dense_probs[i], work.height, work.width);
      return ToSemanticResult(ToContent(semantic, r), r.is_thing, r.params);
    }
    case HeadMode::kFused: {
      // Pool where the dense probabilities live (1/4 of the input), each proposal as its
      // soft mask averaged over the covered pixels.
      const torch::Tensor& probs = work.dense_probs[i];
      const torch::Tensor masks =
          F::adaptive_avg_pool2d(torch::sigmoid(work.full_masks[i]).unsqueeze(1),
                                 F::AdaptiveAvgPool2dFuncOptions({probs.size(1), probs.size(2)}));
      const std::vector<bool> seen =
          dense_head_->seen().Seen(r.label_keys, r.vocabulary->num_labels);
      torch::Tensor seen_mask = torch::zeros({r.vocabulary->num_labels}, torch::kBool);
      for (size_t t = 0; t < seen.size(); ++t) seen_mask[t] = static_cast<bool>(seen[t]);
      // Post-processing takes logits; log-probabilities softmax back to themselves.
      const torch::Tensor fused = FuseClassLogProbabilities(
          work.class_logits[i], probs, masks.squeeze(1), seen_mask, dense_head_->fusion());
      return PostProcess(r, fused, ToContent(work.full_masks[i], r), work.objectness[i]);
    }
    default:
      return PostProcess(r, work.class_logits[i], ToContent(work.full_masks[i], r),
                         work.objectness[i]);
  }
}

}  // namespace ovseg
