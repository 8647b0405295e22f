// The FOV-Seg mask classifier (docs/design.md: "Mask tokens", "TeVA", "Classification"): CLIP's
// vision transformer runs its image tokens unchanged while one mask token per proposal
// rides along. Mask tokens attend only to the class token and the patches their proposal
// covers; TeVA first lets each mask token read the request's class embeddings
// (Mask-Target cross-attention), and the Distribution Adapter turns the proposal's logits
// into a soft bias on that support. Each mask token ends as an embedding classified by
// cosine similarity against the classes and a learnable void embedding.
#ifndef OVSEG_MODEL_TEVA_MASK_CLASSIFIER_H_
#define OVSEG_MODEL_TEVA_MASK_CLASSIFIER_H_

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/clip/clip_model.h"
#include "model/teva/mask_classifier_config.h"

namespace ovseg {

// Mask-Target cross-attention of one block: queries from mask tokens (width C), keys and
// values from class embeddings (width E). How the output projection starts depends on the
// mode: residual (M^ = M + CrossAttn) starts it at zero, so an untrained TeVA is the
// identity; literal (M^ = CrossAttn, FOV-Seg Eq. 9-10, which has no output projection)
// starts it as the identity matrix, so M^ = softmax(q k^T / sqrt(d)) v exactly and g_q,
// g_k, g_v get gradients from the first step (a zero start would make M^ = 0 and leave
// them without any).
class TevaCrossAttentionImpl : public torch::nn::Module {
 public:
  TevaCrossAttentionImpl(int64_t width, int64_t embed_dim, int64_t heads, bool residual = true);
  // tokens [B, N, C]; targets [B, T, E]; target_valid [B, T] bool. Returns [B, N, C].
  torch::Tensor forward(const torch::Tensor& tokens, const torch::Tensor& targets,
                        const torch::Tensor& target_valid);
  // The two halves of forward(): g_k and g_v of the targets, split into heads
  // ([B, heads, T, C / heads] each), and the attention of the tokens over them.
  std::pair<torch::Tensor, torch::Tensor> ProjectTargets(const torch::Tensor& targets);
  torch::Tensor Attend(const torch::Tensor& tokens, const torch::Tensor& keys,
                       const torch::Tensor& values, const torch::Tensor& target_valid);
  torch::nn::Linear g_q{nullptr}, g_k{nullptr}, g_v{nullptr}, out{nullptr};

 private:
  int64_t heads_;
};
TORCH_MODULE(TevaCrossAttention);

// Two 3x3 convolutions (1 -> hidden -> 1) over each proposal's mask logits. Its output
// enters attention as log sigmoid(DA(mask)) averaged over each patch; the last layer
// starts with zero weights and bias +10, so the bias starts at ~-5e-5 (about nothing).
class DistributionAdapterImpl : public torch::nn::Module {
 public:
  explicit DistributionAdapterImpl(int64_t hidden);
  torch::Tensor forward(const torch::Tensor& mask_logits);  // [M, 1, h, w] -> same
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
};
TORCH_MODULE(DistributionAdapter);

// TeVA's keys and values for a batch of class embeddings, per block [B, heads, T, d]. They
// depend only on the vocabulary and TeVA's weights, so serving computes them once per
// vocabulary (model/teva/teva_target_cache.h) instead of projecting every class twice in
// every block for every image: for ADE-847 on ViT-B/16 that is ~16 GFLOP per image.
struct TevaTargets {
  std::vector<torch::Tensor> keys, values;
  torch::Tensor valid;  // [B, T] bool
  int64_t num_targets() const { return valid.defined() ? valid.size(1) : 0; }
  int64_t Bytes() const;
};

struct MaskClassifierInput {
  torch::Tensor images;               // [B, 3, H, W], CLIP-normalised
  torch::Tensor mask_logits;          // [B, N, h, w] proposal logits (> 0 means inside)
  torch::Tensor proposal_valid;       // [B, N] bool; padded proposals are false
  torch::Tensor class_embeddings;     // [B, T, E], L2-normalised
  torch::Tensor class_valid;          // [B, T] bool; padded classes are false
  std::vector<int64_t> dense_layers;  // CLIP blocks whose image tokens to return
  // Optional: TeVA's keys and values of `class_embeddings`, precomputed (ProjectTargets).
  // Without them forward() projects the embeddings itself (training: gradients reach g_k,
  // g_v). With them the projections are skipped; they must match class_valid's shape.
  std::shared_ptr<const TevaTargets> teva_targets;
};

struct MaskClassifierOutput {
  // [B, N, T + 1]: cosine x temperature against each class, void last. Padded classes are
  // -inf, so they never win a softmax or an argmax.
  torch::Tensor class_logits;
  torch::Tensor mask_embeddings;              // [B, N, E], L2-normalised
  std::vector<torch::Tensor> dense_features;  // Requested blocks' image tokens, [B, 1+n, C]
  int64_t grid_h = 0, grid_w = 0;
};

// Which tokens each mask token may attend to: [B, N, 1 + gh*gw] bool. The class token is
// always visible; patch j is visible iff the binarised mask (logit > 0) has a pixel in it.
torch::Tensor MaskAttentionSupport(const torch::Tensor& mask_logits, int64_t grid_h,
                                   int64_t grid_w);

class MaskClassifierImpl : public torch::nn::Module {
 public:
  // Shares `clip` (its parameters stay frozen); adds TeVA, the adapter, the void embedding
  // and a trainable copy of every block's query projection f_q.
  MaskClassifierImpl(ClipVision clip, int64_t embed_dim, const MaskClassifierConfig& config);

  MaskClassifierOutput forward(const MaskClassifierInput& input);

  // The image-token half of forward() alone (no mask tokens, so no proposals or classes):
  // the outputs of the given blocks, [B, 1 + gh*gw, C] each, in the order asked. Image
  // tokens never read mask tokens, so these equal forward()'s dense_features; the dense
  // head uses this when a request needs no mask classification.
  std::vector<torch::Tensor> EncodeImageTokens(const torch::Tensor& images,
                                               const std::vector<int64_t>& layers, int64_t* grid_h,
                                               int64_t* grid_w);

  // TeVA's keys and values of every block for class_embeddings [B, T, E] (any dtype; cast
  // to the classifier's) with validity [B, T].
  TevaTargets ProjectTargets(const torch::Tensor& class_embeddings,
                             const torch::Tensor& class_valid);

  // "teva" (g_*, adapter, void), "clip_fq" (query projections), "frozen" (CLIP).
  std::map<std::string, std::vector<torch::Tensor>> ParameterGroups();
  // Re-copies f_q from CLIP (after CLIP weights are loaded).
  void ResetQueryProjections();

  const MaskClassifierConfig& config() const { return config_; }
  ClipVision clip{nullptr};
  torch::nn::ModuleList teva{nullptr};  // One TevaCrossAttention per block.
  DistributionAdapter adapter{nullptr};
  torch::Tensor void_embedding;
  std::vector<torch::Tensor> fq_weight, fq_bias;  // Per block: [C, C], [C].

 private:
  MaskClassifierConfig config_;
  int64_t embed_dim_;
};
TORCH_MODULE(MaskClassifier);

}  // namespace ovseg

#endif  // OVSEG_MODEL_TEVA_MASK_CLASSIFIER_H_
