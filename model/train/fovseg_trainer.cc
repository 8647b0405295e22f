#include "model/train/fovseg_trainer.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "model/fgaseg/clip_dense_features.h"
#include "model/runtime/autocast_scope.h"
#include "model/train/lr_schedule.h"

namespace ovseg {
namespace {

torch::optim::AdamWOptions GroupOptions(double lr, double weight_decay) {
  return torch::optim::AdamWOptions(lr).weight_decay(weight_decay);
}

}  // namespace

FovSegTrainer::FovSegTrainer(MaskClassifier classifier, std::optional<FgaSegHead> dense_head,
                             FovSegTrainerOptions options)
    : classifier_(std::move(classifier)), dense_head_(std::move(dense_head)), options_(options) {
  options_.grad_accumulation = std::max<int64_t>(1, options_.grad_accumulation);
  std::map<std::string, std::vector<torch::Tensor>> groups = classifier_->ParameterGroups();
  // CLIP itself (and so every image token's frozen path) never trains.
  for (torch::Tensor& p : groups["frozen"]) p.requires_grad_(false);
  options_.fiser.embed_dim = classifier_->clip->proj.size(1);
  options_.fiser.image_width = classifier_->clip->proj.size(0);
  predictor_ = FiserPredictor(options_.fiser);
  predictor_->to(classifier_->clip->proj.device());
  std::vector<torch::optim::OptimizerParamGroup> param_groups;
  auto add = [&](std::vector<torch::Tensor> params, double lr) {
    if (params.empty()) return;
    for (const torch::Tensor& p : params) trainable_.push_back(p);
    param_groups.emplace_back(std::move(params), std::make_unique<torch::optim::AdamWOptions>(
                                                     GroupOptions(lr, options_.weight_decay)));
    group_lr_.push_back(lr);
  };
  add(groups["teva"], options_.lr);
  add(groups["clip_fq"], options_.lr * options_.clip_lr_multiplier);
  if (dense_head_) {
    (*dense_head_)->train();
    add((*dense_head_)->parameters(), options_.lr);
  }
  if (options_.use_fiser) add(predictor_->parameters(), options_.lr);
  optimizer_ = std::make_unique<torch::optim::AdamW>(
      std::move(param_groups), GroupOptions(options_.lr, options_.weight_decay));
}

double FovSegTrainer::LearningRate(int64_t step) const {
  return WarmupDecaySchedule{options_.lr, options_.warmup_steps, options_.total_steps,
                             WarmupDecaySchedule::Decay::kPoly, options_.poly_power}
      .At(step);
}

TrainStepStats FovSegTrainer::Step(const std::vector<TrainImage>& batch) {
  TORCH_CHECK(!batch.empty(), "train step: empty batch");
  torch::manual_seed(
      MicroBatchSeed(options_.seed, options_.data_parallel,
                     step_ * options_.grad_accumulation + micro_ % options_.grad_accumulation));
  classifier_->train();
  predictor_->train();
  if (dense_head_) (*dense_head_)->train();  // validation may have switched it to eval
  const int64_t b = static_cast<int64_t>(batch.size());
  const torch::Device device = classifier_->clip->proj.device();
  const auto dtype = classifier_->clip->proj.scalar_type();
  int64_t max_n = 1, max_k = 1;
  for (const TrainImage& im : batch) {
    TORCH_CHECK(im.class_embeddings.size(0) > 0, "train step: an image without classes");
    max_n = std::max(max_n, im.proposal_logits.size(0));
    max_k = std::max(max_k, im.class_embeddings.size(0));
  }
  const int64_t h = batch[0].proposal_logits.size(1), w = batch[0].proposal_logits.size(2);
  const int64_t e = batch[0].class_embeddings.size(1);
  MaskClassifierInput in;
  std::vector<torch::Tensor> pixels;
  in.mask_logits = torch::full({b, max_n, h, w}, -10.0f);
  in.proposal_valid = torch::zeros({b, max_n}, torch::kBool);
  in.class_embeddings = torch::zeros({b, max_k, e});
  in.class_valid = torch::zeros({b, max_k}, torch::kBool);
  torch::Tensor targets = torch::full({b, max_n}, kVoidTarget, torch::kLong);
  for (int64_t i = 0; i < b; ++i) {
    const TrainImage& im = batch[i];
    pixels.push_back(im.pixels);
    const int64_t n = im.proposal_logits.size(0), k = im.class_embeddings.size(0);
    in.mask_logits[i].narrow(0, 0, n).copy_(im.proposal_logits);
    in.proposal_valid[i].narrow(0, 0, n).fill_(true);
    in.class_embeddings[i].narrow(0, 0, k).copy_(im.class_embeddings);
    in.class_valid[i].narrow(0, 0, k).fill_(true);
  }
  in.images = torch::stack(pixels).to(device, dtype);
  in.mask_logits = in.mask_logits.to(device, dtype);
  in.proposal_valid = in.proposal_valid.to(device);
  in.class_embeddings = in.class_embeddings.to(device, dtype);
  in.class_valid = in.class_valid.to(device);
  // Image tokens the auxiliary parts read: the last block's (FiSeR's patches) and the
  // dense head's; forward() returns them once each, in block order.
  const int64_t last = classifier_->clip->transformer->size() - 1;
  std::vector<int64_t> head_layers;
  if (dense_head_)
    head_layers =
        DenseFeatureTokenLayers(classifier_->clip, (*dense_head_)->config().guidance_layers);
  std::vector<int64_t> wanted = head_layers;
  wanted.push_back(last);
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  in.dense_layers = wanted;
  std::optional<AutocastScope> autocast;
  autocast.emplace(device, options_.autocast_bf16);
  const MaskClassifierOutput out = classifier_->forward(in);
  auto tokens_of = [&](int64_t layer) {
    return out.dense_features.at(static_cast<size_t>(
        std::lower_bound(wanted.begin(), wanted.end(), layer) - wanted.begin()));
  };

  // Matching reads the classifier's current class probabilities (Mask2Former's class
  // cost), so it runs after the forward pass, without gradients.
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor probs =
        torch::softmax(out.class_logits.detach().to(torch::kFloat32), -1).to(torch::kCPU);
    for (int64_t i = 0; i < b; ++i) {
      const TrainImage& im = batch[static_cast<size_t>(i)];
      const int64_t n = im.proposal_logits.size(0);
      absl::StatusOr<std::vector<int64_t>> t =
          MatchProposalsToSegments(im.proposal_logits, im.segment_masks, im.segment_classes,
                                   options_.matching, probs[i].narrow(0, 0, n));
      TORCH_CHECK(t.ok(), "train step: ", std::string(t.status().message()));
      targets[i].narrow(0, 0, n).copy_(torch::tensor(*t, torch::kLong));
    }
  }
  TrainStepStats stats;
  const torch::Tensor ce = MaskClassificationLoss(out.class_logits, targets.to(device),
                                                  in.proposal_valid, options_.void_weight);
  torch::Tensor loss = options_.ce_weight * ce;
  stats.ce = ce.item<double>();
  if (options_.use_fiser) {
    // FiSeR's K labels are the classes the image shows (Eq. 2: its ground-truth labels),
    // not the whole vocabulary the classifier chooses from; an image without segments
    // takes part with its vocabulary instead.
    std::vector<std::vector<int64_t>> shown(static_cast<size_t>(b));
    int64_t max_shown = 1;
    for (int64_t i = 0; i < b; ++i) {
      std::vector<int64_t>& s = shown[static_cast<size_t>(i)];
      s = batch[static_cast<size_t>(i)].segment_classes;
      std::sort(s.begin(), s.end());
      s.erase(std::unique(s.begin(), s.end()), s.end());
      if (s.empty()) {
        for (int64_t c = 0; c < batch[static_cast<size_t>(i)].class_embeddings.size(0); ++c)
          s.push_back(c);
      }
      max_shown = std::max<int64_t>(max_shown, static_cast<int64_t>(s.size()));
    }
    FiserInputs f;
    f.class_embeddings = torch::zeros({b, max_shown, e}, in.class_embeddings.options());
    f.class_valid = torch::zeros({b, max_shown}, in.class_valid.options());
    for (int64_t i = 0; i < b; ++i) {
      const std::vector<int64_t>& s = shown[static_cast<size_t>(i)];
      const int64_t k = static_cast<int64_t>(s.size());
      f.class_embeddings[i].narrow(0, 0, k).copy_(
          in.class_embeddings[i].index_select(0, torch::tensor(s, torch::kLong).to(device)));
      f.class_valid[i].narrow(0, 0, k).fill_(true);
    }
    f.masked = SampleMaskedLabels(f.class_valid);
    const torch::Tensor image_tokens = tokens_of(last);
    f.patches = image_tokens.narrow(1, 1, image_tokens.size(1) - 1);
    const torch::Tensor fiser = predictor_->forward(f).loss;
    loss = loss + options_.fiser_weight * fiser;
    stats.fiser = fiser.item<double>();
  }
  if (dense_head_) {
    std::vector<torch::Tensor> tokens;
    for (int64_t layer : head_layers) tokens.push_back(tokens_of(layer));
    const ClipDenseFeatures features =
        DenseFeaturesFromTokens(classifier_->clip, tokens, out.grid_h, out.grid_w);
    FgaSegInputs d{features.dense, features.guidance, in.class_embeddings, in.class_valid};
    const FgaSegOutputs dense_out = (*dense_head_)->forward(d, /*training_outputs=*/true);
    std::vector<torch::Tensor> labels;
    for (const TrainImage& im : batch) labels.push_back(im.semantic_labels);
    const FgaSegLosses dense = ComputeFgaSegLoss(dense_out, torch::stack(labels).to(device),
                                                 in.class_valid, options_.dense_loss);
    loss = loss + dense.total;
    stats.dense = dense.total.item<double>();
  }
  autocast.reset();
  stats.loss = loss.item<double>();
  (loss / static_cast<double>(options_.grad_accumulation)).backward();
  if (++micro_ % options_.grad_accumulation != 0) return stats;
  if (options_.data_parallel) options_.data_parallel->AverageGradients(trainable_);

  stats.grad_norm = options_.grad_clip > 0
                        ? torch::nn::utils::clip_grad_norm_(trainable_, options_.grad_clip)
                        : torch::nn::utils::clip_grad_norm_(trainable_, 1e30);
  const double scale = LearningRate(step_) / options_.lr;
  for (size_t g = 0; g < optimizer_->param_groups().size(); ++g) {
    static_cast<torch::optim::AdamWOptions&>(optimizer_->param_groups()[g].options())
        .lr(group_lr_[g] * scale);
  }
  stats.lr = LearningRate(step_);
  optimizer_->step();
  optimizer_->zero_grad();
  ++step_;
  stats.applied = true;
  return stats;
}

absl::Status FovSegTrainer::SaveState(const std::string& path) {
  try {
    torch::serialize::OutputArchive root, optimizer, predictor;
    optimizer_->save(optimizer);
    predictor_->save(predictor);
    root.write("optimizer", optimizer);
    root.write("predictor", predictor);
    root.write("step", torch::tensor(step_));
    const std::string partial = path + ".partial";
    root.save_to(partial);
    std::filesystem::rename(partial, path);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(path, ": cannot save the training state: ", e.what()));
  }
  return absl::OkStatus();
}

absl::Status FovSegTrainer::LoadState(const std::string& path) {
  try {
    torch::serialize::InputArchive root, optimizer, predictor;
    root.load_from(path);
    root.read("optimizer", optimizer);
    root.read("predictor", predictor);
    torch::Tensor step;
    root.read("step", step);
    optimizer_->load(optimizer);
    predictor_->load(predictor);
    step_ = step.item<int64_t>();
    micro_ = 0;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a training state of this model: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace ovseg
