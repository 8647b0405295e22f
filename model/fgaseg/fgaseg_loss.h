// The FGAseg head's training objective (FGAseg Sec. III-E; docs/design.md):
//   L = ce_weight * CE(logits) + align_weight * L_align + aux_weight * L_aux
// - CE: per-pixel cross-entropy over the request's classes (batch-padding classes never
//   compete), logits bilinearly resized to the label map, `ignore` pixels skipped;
// - L_align: mean squared error between sigmoid(T2P map) and the one-hot class masks,
//   nearest-resized to the map's resolution, over valid classes and labelled pixels;
// - L_aux: the same cross-entropy on each of the three auxiliary maps, summed.
// Defaults 1.0 / 0.02 / 0.2. (The official code trains with per-class BCE instead of CE
// and BCE for the alignment; we follow the paper and docs/design.md.)
#ifndef OVSEG_MODEL_FGASEG_FGASEG_LOSS_H_
#define OVSEG_MODEL_FGASEG_FGASEG_LOSS_H_

#include <torch/torch.h>

#include "model/fgaseg/fgaseg_head.h"

namespace ovseg {

struct FgaSegLossOptions {
  double ce_weight = 1.0;
  double align_weight = 0.02;
  double aux_weight = 0.2;
  int64_t ignore = 255;
};

struct FgaSegLosses {
  torch::Tensor total, ce, align, aux;
};

// Per-pixel cross-entropy of logits [B, T, h, w] against labels [B, H, W] (class index or
// `ignore`), classes outside class_valid [B, T] excluded.
torch::Tensor DenseCrossEntropy(const torch::Tensor& logits, const torch::Tensor& labels,
                                const torch::Tensor& class_valid, int64_t ignore);

// outputs from FgaSegHead::forward(..., training_outputs=true).
FgaSegLosses ComputeFgaSegLoss(const FgaSegOutputs& outputs, const torch::Tensor& labels,
                               const torch::Tensor& class_valid, const FgaSegLossOptions& options);

}  // namespace ovseg

#endif  // OVSEG_MODEL_FGASEG_FGASEG_LOSS_H_
