// The `clip_pretrain` stage's model step: a CLIP trained from scratch on image-caption
// pairs (Radford et al. 2021, Fig. 3): both towers' embeddings L2-normalised, logits =
// exp(logit_scale) x cosine similarity, cross-entropy over the batch in both directions
// (image -> caption, caption -> image), averaged. The temperature is learned, its scale
// clamped at 100 as CLIP does. AdamW with warm-up and cosine decay; no weight decay on
// gains, biases, embeddings or the temperature.
#ifndef OVSEG_MODEL_TRAIN_CLIP_PRETRAINER_H_
#define OVSEG_MODEL_TRAIN_CLIP_PRETRAINER_H_

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "model/clip/clip_model.h"
#include "model/train/data_parallel.h"

namespace ovseg {

struct ClipPretrainOptions {
  double lr = 5e-4;
  double weight_decay = 0.1;
  int64_t warmup_steps = 60;
  int64_t total_steps = 600;
  double grad_clip = 1.0;      // max global gradient norm; 0 = off
  bool autocast_bf16 = false;  // forward passes under bf16 autocast
  // Non-owning; when set, gradients are averaged over its ranks before clipping. Each
  // rank's batch contrasts within itself (OpenCLIP's local loss without feature gather),
  // so W ranks of batch b train as W accumulated batches of b, not as one batch of W x b.
  DataParallel* data_parallel = nullptr;
};

struct ClipStepStats {
  double loss = 0;
  double accuracy = 0;     // share of images and captions whose own pair scores highest
  double logit_scale = 0;  // exp(logit_scale) after the step
  double lr = 0, grad_norm = 0;
};

// CLIP's initialisation (openai/CLIP initialize_parameters): embeddings N(0, 0.02) and
// N(0, 0.01), attention and MLP weights scaled by width and depth, projections by width.
void InitializeClipForTraining(ClipModel& model);

// The symmetric InfoNCE loss of matching rows. `accuracy`, when given, receives the share
// of rows (both directions) whose own pair has the highest logit.
torch::Tensor ClipContrastiveLoss(const torch::Tensor& image_embeddings,
                                  const torch::Tensor& text_embeddings,
                                  const torch::Tensor& logit_scale, double* accuracy = nullptr);

class ClipPretrainer {
 public:
  ClipPretrainer(ClipModel model, ClipPretrainOptions options);
  // images: [B, 3, S, S] CLIP-normalised; tokens: [B, L] int64, the matching captions.
  ClipStepStats Step(const torch::Tensor& images, const torch::Tensor& tokens);
  int64_t step() const { return step_; }

 private:
  ClipModel model_;
  ClipPretrainOptions options_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  std::vector<double> group_lr_;
  int64_t step_ = 0;
};

}  // namespace ovseg

#endif  // OVSEG_MODEL_TRAIN_CLIP_PRETRAINER_H_
