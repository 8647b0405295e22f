// The `generator` stage's model step: class-agnostic Mask2Former training (docs/design.md "Mask
// generator"; only masks and objectness are used downstream). Every annotated segment is
// one object of the single class; the loss is Mask2Former's (Hungarian matching on class
// + BCE + dice, deep supervision over every decoder layer, uncertainty-sampled points).
// AdamW with warm-up and detectron2's poly decay; global gradient-norm clipping. Each
// step's point sampling is seeded by its micro-batch index (MicroBatchSeed), so W
// data-parallel ranks draw what one process would for the same micro-batches.
#ifndef OVSEG_MODEL_TRAIN_GENERATOR_TRAINER_H_
#define OVSEG_MODEL_TRAIN_GENERATOR_TRAINER_H_

#include <torch/torch.h>

#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "model/mask2former/mask2former_loss.h"
#include "model/mask2former/mask2former_model.h"
#include "model/train/data_parallel.h"

namespace ovseg {

struct GeneratorTrainOptions {
  double lr = 1e-3;
  double weight_decay = 0.05;
  int64_t warmup_steps = 100;
  int64_t total_steps = 2000;
  double grad_clip = 0.1;      // max global gradient norm; 0 = off
  bool autocast_bf16 = false;  // the model's forward pass under bf16 autocast
  Mask2FormerLossOptions loss;
  // Step's masks are at 1/target_stride of the input (1: full resolution, 4: the mask
  // grid); the loss samples them at the same relative points as the predictions.
  int64_t target_stride = 1;
  // Non-owning; when set, gradients are averaged over its ranks before clipping.
  DataParallel* data_parallel = nullptr;
};

struct GeneratorStepStats {
  double loss = 0, classification = 0, mask_bce = 0, mask_dice = 0;
  double lr = 0, grad_norm = 0;
};

class GeneratorTrainer {
 public:
  GeneratorTrainer(Mask2Former model, GeneratorTrainOptions options, uint64_t seed);
  // images: [B, 3, H, W] CLIP-normalised (converted as the serving generator converts
  // them); masks: per image [N, H/s, W/s] bool segments, s = options.target_stride (N may
  // be 0; smaller maps are padded as background); unannotated: empty, or per image
  // [H/4, W/4] bool, content no segment labels (SegmentTargets::unannotated).
  absl::StatusOr<GeneratorStepStats> Step(const torch::Tensor& images,
                                          const std::vector<torch::Tensor>& masks,
                                          const std::vector<torch::Tensor>& unannotated = {});
  int64_t step() const { return step_; }

 private:
  Mask2Former model_;
  GeneratorTrainOptions options_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  at::Generator points_;
  uint64_t seed_;
  int64_t step_ = 0;
};

}  // namespace ovseg

#endif  // OVSEG_MODEL_TRAIN_GENERATOR_TRAINER_H_
