// One optimisation step of FOV-Seg's `fovseg` training stage (docs/design.md "What trains",
// "FiSeR"; FOV-Seg Sec. IV training configuration): the generator and CLIP stay frozen
// (asserted: their parameters never require gradients); TeVA, the adapter, the void
// embedding and CLIP's f_q train with
//   L = fiser_weight * L_FiSeR + ce_weight * L_CE   (1.0 and 2.0, Eq. 12),
// plus, when given, the FGAseg head with its own losses (CE + 0.02 L_align + 0.2 L_aux).
// AdamW (lr 1e-4, weight decay 0.05, CLIP's f_q at 0.1 x lr), linear warm-up then
// detectron2's poly decay (power 0.9), gradient-norm clipping, gradient accumulation and
// data parallelism (model/train/data_parallel.h).
// The FiSeR Predictor trains alongside and is never part of a serving checkpoint.
#ifndef OVSEG_MODEL_TRAIN_FOVSEG_TRAINER_H_
#define OVSEG_MODEL_TRAIN_FOVSEG_TRAINER_H_

#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/fgaseg/fgaseg_head.h"
#include "model/fgaseg/fgaseg_loss.h"
#include "model/teva/mask_classifier.h"
#include "model/train/data_parallel.h"
#include "model/train/fiser_predictor.h"
#include "model/train/mask_classification_loss.h"

namespace ovseg {

struct FovSegTrainerOptions {
  double lr = 1e-4;
  double weight_decay = 0.05;
  double clip_lr_multiplier = 0.1;
  int64_t warmup_steps = 100;
  int64_t total_steps = 1000;
  double poly_power = 0.9;
  double grad_clip = 1.0;  // max global gradient norm; 0 = off
  int64_t grad_accumulation = 1;
  bool autocast_bf16 = false;  // forward passes under bf16 autocast
  bool use_fiser = true;
  double fiser_weight = 1.0;
  double ce_weight = 2.0;
  // L_CE's weight of the void class: MaskCLIP's 0 (Mask2Former's eos_coef is 0.1); on the
  // demo 0 > 0.1 > 1 in PQ and mIoU (docs/results.md).
  double void_weight = 0.0;
  MatchingCost matching;  // class + BCE + dice, Mask2Former's 2, 5, 5
  FiserConfig fiser;
  FgaSegLossOptions dense_loss;
  // Each micro-batch's random draws (FiSeR's masked label, dropout) are seeded by
  // MicroBatchSeed(seed, its index in the global sequence).
  uint64_t seed = 1;
  // Non-owning; when set, gradients are averaged over its ranks before clipping.
  DataParallel* data_parallel = nullptr;
};

// One image's training data at the classifier's input size H x W.
struct TrainImage {
  torch::Tensor pixels;                  // [3, H, W], CLIP-normalised
  torch::Tensor proposal_logits;         // [N, H/4, W/4]: the frozen generator's (or given) masks
  torch::Tensor segment_masks;           // [G, H/4, W/4] bool: ground-truth segments
  std::vector<int64_t> segment_classes;  // [G]: index into class_embeddings
  // [K, E], L2-normalised: the vocabulary the classifier chooses from (the training
  // classes); FiSeR masks one of the classes the segments show.
  torch::Tensor class_embeddings;
  torch::Tensor semantic_labels;  // [H, W] long (class index or 255); the dense head's target
};

struct TrainStepStats {
  double loss = 0, ce = 0, fiser = 0, dense = 0;
  double lr = 0;
  double grad_norm = 0;  // before clipping; 0 until the accumulated step is applied
  bool applied = false;  // an optimiser step happened (every grad_accumulation calls)
};

class FovSegTrainer {
 public:
  FovSegTrainer(MaskClassifier classifier, std::optional<FgaSegHead> dense_head,
                FovSegTrainerOptions options);

  TrainStepStats Step(const std::vector<TrainImage>& batch);

  // Optimiser state (moments, step counts) and the Predictor, for resuming.
  absl::Status SaveState(const std::string& path);
  absl::Status LoadState(const std::string& path);

  int64_t step() const { return step_; }
  double LearningRate(int64_t step) const;  // the schedule's multiplier x lr
  MaskClassifier& classifier() { return classifier_; }
  // Every tensor the optimiser updates (TeVA, f_q, the head, the Predictor).
  const std::vector<torch::Tensor>& trainable() const { return trainable_; }
  FiserPredictor& predictor() { return predictor_; }

 private:
  MaskClassifier classifier_;
  std::optional<FgaSegHead> dense_head_;
  FiserPredictor predictor_{nullptr};
  FovSegTrainerOptions options_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  std::vector<double> group_lr_;  // base lr of each parameter group
  std::vector<torch::Tensor> trainable_;
  int64_t step_ = 0, micro_ = 0;
};

}  // namespace ovseg

#endif  // OVSEG_MODEL_TRAIN_FOVSEG_TRAINER_H_
