#include "model/train/generator_trainer.h"

#include "model/mask2former/mask2former_generator.h"
#include "model/runtime/autocast_scope.h"
#include "model/train/lr_schedule.h"

namespace ovseg {

GeneratorTrainer::GeneratorTrainer(Mask2Former model, GeneratorTrainOptions options, uint64_t seed)
    : model_(std::move(model)),
      options_(options),
      points_(at::detail::createCPUGenerator(seed)),
      seed_(seed) {
  optimizer_ = std::make_unique<torch::optim::AdamW>(
      model_->parameters(),
      torch::optim::AdamWOptions(options_.lr).weight_decay(options_.weight_decay));
}

absl::StatusOr<GeneratorStepStats> GeneratorTrainer::Step(
    const torch::Tensor& images, const std::vector<torch::Tensor>& masks,
    const std::vector<torch::Tensor>& unannotated) {
  if (!unannotated.empty() && unannotated.size() != masks.size()) {
    return absl::InvalidArgumentError("generator: one unannotated map per image, or none");
  }
  model_->train();
  {
    std::lock_guard<std::mutex> lock(points_.mutex());
    points_.set_current_seed(MicroBatchSeed(seed_, options_.data_parallel, step_));
  }
  GeneratorStepStats stats;
  stats.lr =
      WarmupDecaySchedule{options_.lr, options_.warmup_steps, options_.total_steps}.At(step_);
  SetAdamWLearningRate(*optimizer_, stats.lr);
  const torch::Tensor x = ClipToMask2FormerInput(images);
  std::vector<SegmentTargets> targets;
  // Targets on the padded input at 1/stride: padding is background, and annotated.
  const auto pad = [&](const torch::Tensor& m, int64_t stride) {
    torch::Tensor padded =
        torch::zeros({m.size(0), x.size(2) / stride, x.size(3) / stride}, torch::kFloat32);
    padded.narrow(1, 0, m.size(1)).narrow(2, 0, m.size(2)).copy_(m.to(torch::kFloat32));
    return padded.to(x.device());
  };
  for (size_t i = 0; i < masks.size(); ++i) {
    const torch::Tensor& m = masks[i];
    targets.push_back(
        {pad(m, options_.target_stride),
         torch::zeros({m.size(0)}, torch::TensorOptions(torch::kLong).device(x.device())),
         unannotated.empty() ? torch::Tensor()
                             : pad(unannotated[i].unsqueeze(0), kMask2FormerMaskStride)[0]});
  }
  optimizer_->zero_grad();
  std::vector<MaskPrediction> predictions;
  {
    AutocastScope autocast(x.device(), options_.autocast_bf16);
    predictions = model_->forward(x);
  }
  for (MaskPrediction& p : predictions) {  // the matching and losses run in fp32
    p.class_logits = p.class_logits.to(torch::kFloat32);
    p.mask_logits = p.mask_logits.to(torch::kFloat32);
  }
  absl::StatusOr<Mask2FormerLosses> loss =
      ComputeMask2FormerLoss(predictions, targets, options_.loss, points_);
  if (!loss.ok()) return loss.status();
  loss->total.backward();
  if (options_.data_parallel) options_.data_parallel->AverageGradients(model_->parameters());
  stats.grad_norm = torch::nn::utils::clip_grad_norm_(
      model_->parameters(), options_.grad_clip > 0 ? options_.grad_clip : 1e30);
  optimizer_->step();
  stats.loss = loss->total.item<double>();
  stats.classification = loss->classification.item<double>();
  stats.mask_bce = loss->mask_bce.item<double>();
  stats.mask_dice = loss->mask_dice.item<double>();
  ++step_;
  return stats;
}

}  // namespace ovseg
