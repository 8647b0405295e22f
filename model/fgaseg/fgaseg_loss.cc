#include "model/fgaseg/fgaseg_loss.h"

namespace ovseg {
namespace F = torch::nn::functional;

torch::Tensor DenseCrossEntropy(const torch::Tensor& logits, const torch::Tensor& labels,
                                const torch::Tensor& class_valid, int64_t ignore) {
  const int64_t b = logits.size(0), t = logits.size(1);
  torch::Tensor resized = logits.to(torch::kFloat32);
  if (resized.size(2) != labels.size(1) || resized.size(3) != labels.size(2)) {
    resized =
        F::interpolate(resized, F::InterpolateFuncOptions()
                                    .size(std::vector<int64_t>{labels.size(1), labels.size(2)})
                                    .mode(torch::kBilinear)
                                    .align_corners(false));
  }
  resized = resized.masked_fill(class_valid.logical_not().view({b, t, 1, 1}),
                                -std::numeric_limits<float>::infinity());
  return F::cross_entropy(resized, labels.to(torch::kLong),
                          F::CrossEntropyFuncOptions().ignore_index(ignore));
}

FgaSegLosses ComputeFgaSegLoss(const FgaSegOutputs& out, const torch::Tensor& labels,
                               const torch::Tensor& class_valid, const FgaSegLossOptions& o) {
  TORCH_CHECK(out.aux0.defined() && out.alignment.defined(),
              "fgaseg loss: run the head with training_outputs");
  FgaSegLosses l;
  l.ce = DenseCrossEntropy(out.logits, labels, class_valid, o.ignore);
  l.aux = DenseCrossEntropy(out.aux0, labels, class_valid, o.ignore) +
          DenseCrossEntropy(out.aux1, labels, class_valid, o.ignore) +
          DenseCrossEntropy(out.aux2, labels, class_valid, o.ignore);
  // One-hot class masks at the alignment map's resolution (nearest).
  const int64_t b = out.alignment.size(0), t = out.alignment.size(1);
  const torch::Tensor small =
      F::interpolate(labels.unsqueeze(1).to(torch::kFloat32),
                     F::InterpolateFuncOptions()
                         .size(std::vector<int64_t>{out.alignment.size(2), out.alignment.size(3)})
                         .mode(torch::kNearest))
          .squeeze(1)
          .to(torch::kLong);
  const torch::Tensor labelled = (small != o.ignore).unsqueeze(1);  // [B, 1, h, w]
  const torch::Tensor classes = torch::arange(t, small.options()).view({1, t, 1, 1});
  const torch::Tensor target = (small.unsqueeze(1) == classes).to(torch::kFloat32);
  const torch::Tensor counted = (labelled & class_valid.view({b, t, 1, 1})).to(torch::kFloat32);
  const torch::Tensor squared = (out.alignment.to(torch::kFloat32).sigmoid() - target).pow(2);
  l.align = (squared * counted).sum() / counted.sum().clamp_min(1.0);
  l.total = o.ce_weight * l.ce + o.align_weight * l.align + o.aux_weight * l.aux;
  return l;
}

}  // namespace ovseg
