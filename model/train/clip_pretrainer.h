// The `clip_pretrain` stage's model step: a CLIP trained from scratch on image-caption
// pairs (Radford et al. 2021, Fig. 3): both towers' embeddings L2-normalised, logits =
// exp(logit_scale) x cosine similarity, cross-entropy over the batch in both directions
// (image -> caption, caption -> image), averaged. The temperature is learned, its scale
// clamped at 100 as CLIP does. AdamW with warm-up and cosine decay; no weight decay on
// gains, biases, embeddings or the temperature. Optional hard-negative captions (NegCLIP,
// Yuksekgonul et al. 2023, "When and why vision-language models behave like bags-of-words")
// join the image -> caption direction as extra wrong answers for every image. Pairs whose
// captions are the same text are no wrong answers for each other and are left out.
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
  double accuracy = 0;  // share of images and captions whose own pair scores highest
  // Share of images whose own caption outscores every hard negative of the batch (0
  // without negatives).
  double hard_negative_accuracy = 0;
  double logit_scale = 0;  // exp(logit_scale) after the step
  double lr = 0, grad_norm = 0;
};

// CLIP's initialisation (openai/CLIP initialize_parameters): embeddings N(0, 0.02) and
// N(0, 0.01), attention and MLP weights scaled by width and depth, projections by width.
void InitializeClipForTraining(ClipModel& model);

// Hard-negative captions of a batch of B images: N caption embeddings, every one a wrong
// answer for every image except where `excluded` [B, N] (bool) says it is the image's own
// caption word for word (another image's negative can be).
struct ClipHardNegatives {
  torch::Tensor text_embeddings;  // [N, D]
  torch::Tensor excluded;         // [B, N] bool
};

// The symmetric InfoNCE loss of matching rows; with `negatives`, each image's softmax also
// runs over the N negatives (caption -> image is unchanged: a negative has no image).
// `same_caption` [B, B] bool (undefined: none) marks pairs i != j whose captions are the
// same text: each is left out of both softmaxes, since image j is no wrong answer for
// caption i when the captions agree (a corpus of few distinct captions, such as region
// crops of 8 stuff names, repeats them in every batch). `accuracy`, when given, receives
// the share of rows (both directions) whose own pair has the highest logit among the B;
// `negative_accuracy` the share of images whose own caption beats every negative.
torch::Tensor ClipContrastiveLoss(const torch::Tensor& image_embeddings,
                                  const torch::Tensor& text_embeddings,
                                  const torch::Tensor& logit_scale, double* accuracy = nullptr,
                                  const ClipHardNegatives* negatives = nullptr,
                                  double* negative_accuracy = nullptr,
                                  const torch::Tensor& same_caption = {});

// SameCaption(tokens) [B, B] bool: true where rows i != j of `tokens` [B, L] are equal.
torch::Tensor SameCaption(const torch::Tensor& tokens);

class ClipPretrainer {
 public:
  ClipPretrainer(ClipModel model, ClipPretrainOptions options);
  // images: [B, 3, S, S] CLIP-normalised; tokens: [B, L] int64, the matching captions;
  // negative_tokens: [N, L] hard-negative captions (undefined or N = 0: none) with
  // `excluded` [B, N] as ClipHardNegatives.
  ClipStepStats Step(const torch::Tensor& images, const torch::Tensor& tokens,
                     const torch::Tensor& negative_tokens = {}, const torch::Tensor& excluded = {});
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
