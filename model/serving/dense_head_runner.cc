#include "model/serving/dense_head_runner.h"

#include <algorithm>

#include "model/fgaseg/clip_dense_features.h"

namespace ovseg {

DenseHeadRunner::DenseHeadRunner(FgaSegHead head, SeenVocabulary seen, FusionOptions fusion)
    : head_(std::move(head)), seen_(std::move(seen)), fusion_(fusion) {
  head_->eval();
}

std::vector<int64_t> DenseHeadRunner::TokenLayers(ClipVision& visual) const {
  return DenseFeatureTokenLayers(visual, head_->config().guidance_layers);
}

std::vector<torch::Tensor> DenseHeadRunner::ClassProbabilities(
    ClipVision& visual, const std::vector<torch::Tensor>& tokens, int64_t gh, int64_t gw,
    const std::vector<const VocabularyEmbeddings*>& vocabularies) {
  const ClipDenseFeatures features = DenseFeaturesFromTokens(visual, tokens, gh, gw);
  const int64_t b = static_cast<int64_t>(vocabularies.size());
  TORCH_CHECK(features.dense.size(0) == b, "dense head: ", features.dense.size(0), " images for ",
              b, " vocabularies");
  int64_t max_labels = 0;
  for (const VocabularyEmbeddings* v : vocabularies) {
    max_labels = std::max<int64_t>(max_labels, v->num_labels);
  }
  const int64_t dim = vocabularies.front()->dim;
  torch::Tensor classes = torch::zeros({b, max_labels, dim});
  torch::Tensor valid = torch::zeros({b, max_labels}, torch::kBool);
  for (int64_t k = 0; k < b; ++k) {
    const VocabularyEmbeddings& v = *vocabularies[k];
    classes[k]
        .narrow(0, 0, v.num_labels)
        .copy_(torch::from_blob(const_cast<float*>(v.data.data()), {v.num_labels, v.dim}));
    valid[k].narrow(0, 0, v.num_labels).fill_(true);
  }
  FgaSegInputs in;
  in.dense = features.dense;
  in.guidance = features.guidance;
  in.classes = classes.to(features.dense.device(), features.dense.scalar_type());
  in.class_valid = valid.to(features.dense.device());
  const torch::Tensor logits = head_->forward(in).logits.to(torch::kCPU, torch::kFloat32);
  std::vector<torch::Tensor> out;
  for (int64_t k = 0; k < b; ++k) {
    out.push_back(torch::softmax(logits[k].narrow(0, 0, vocabularies[k]->num_labels), 0));
  }
  return out;
}

}  // namespace ovseg
