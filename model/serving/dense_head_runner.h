// The FGAseg dense head as the pipeline serves it: its features come from the CLIP pass
// the mask classifier already makes (docs/design.md, "Request path", step 6), each request's
// vocabulary is padded into one batch, and what comes out is per-pixel class
// probabilities (softmax over the request's own classes, the head's training objective)
// at 1/4 of the input, plus what FUSED mode needs to weigh them.
#ifndef OVSEG_MODEL_SERVING_DENSE_HEAD_RUNNER_H_
#define OVSEG_MODEL_SERVING_DENSE_HEAD_RUNNER_H_

#include <torch/torch.h>

#include <vector>

#include "model/api/segmentation_pipeline.h"
#include "model/clip/clip_model.h"
#include "model/fgaseg/fgaseg_head.h"
#include "model/fgaseg/fusion.h"
#include "model/serving/seen_vocabulary.h"

namespace ovseg {

class DenseHeadRunner {
 public:
  // `head` on the pipeline's device and dtype, in eval mode.
  DenseHeadRunner(FgaSegHead head, SeenVocabulary seen, FusionOptions fusion);

  // CLIP blocks whose image tokens the head is built from (DenseFeatureTokenLayers).
  std::vector<int64_t> TokenLayers(ClipVision& visual) const;

  // tokens: per TokenLayers(), [B, 1 + gh*gw, C]; vocabularies: one per batch row.
  // Returns per row [T_row, 4*gh, 4*gw] float32 probabilities on the CPU; classes that
  // Top-K skipped read ~0.
  std::vector<torch::Tensor> ClassProbabilities(
      ClipVision& visual, const std::vector<torch::Tensor>& tokens, int64_t gh, int64_t gw,
      const std::vector<const VocabularyEmbeddings*>& vocabularies);

  const SeenVocabulary& seen() const { return seen_; }
  const FusionOptions& fusion() const { return fusion_; }
  const FgaSegConfig& config() const { return head_->config(); }

 private:
  FgaSegHead head_;
  SeenVocabulary seen_;
  FusionOptions fusion_;
};

}  // namespace ovseg

#endif  // OVSEG_MODEL_SERVING_DENSE_HEAD_RUNNER_H_
