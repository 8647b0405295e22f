// OpenAI CLIP in LibTorch (docs/design.md, "CLIP"): a pre-LN vision transformer and a causal
// text transformer. Module and parameter names equal OpenAI's state-dict keys
// ("visual.transformer.resblocks.0.attn.in_proj_weight", "token_embedding.weight", ...), so
// weights load by name and later modules (mask classifier, FGAseg) reach the blocks.
#ifndef OVSEG_MODEL_CLIP_CLIP_MODEL_H_
#define OVSEG_MODEL_CLIP_CLIP_MODEL_H_

#include <torch/torch.h>

#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"

namespace ovseg {

enum class PosEmbedInterpolation { kBicubic, kBilinear };

struct ClipVisionConfig {
  int64_t width = 0;  // C
  int64_t layers = 0;
  int64_t heads = 0;  // width / 64
  int64_t patch_size = 0;
  int64_t image_size = 0;  // Pre-training resolution (grid * patch).
};

struct ClipTextConfig {
  int64_t width = 0;
  int64_t layers = 0;
  int64_t heads = 0;
  int64_t context_length = 0;
  int64_t vocab_size = 0;
};

struct ClipConfig {
  ClipVisionConfig vision;
  ClipTextConfig text;
  int64_t embed_dim = 0;   // E
  bool quick_gelu = true;  // OpenAI weights: QuickGELU; OpenCLIP weights: GELU.
  PosEmbedInterpolation interpolation = PosEmbedInterpolation::kBicubic;
};

// Sizes from the weight shapes of an OpenAI-named state dict (heads = width / 64).
absl::StatusOr<ClipConfig> InferClipConfig(const std::map<std::string, torch::Tensor>& state,
                                           bool quick_gelu);

// Multi-head self-attention with PyTorch's packed in_proj layout.
class ClipAttentionImpl : public torch::nn::Module {
 public:
  ClipAttentionImpl(int64_t width, int64_t heads);
  // x: [B, L, C]. mask: additive [L, L] / [B*heads or B, ..., L, L] or undefined.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask, bool causal);
  // The packed projection of x to queries, keys and values, each [B, heads, L, C/heads].
  std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> Project(const torch::Tensor& x);
  int64_t heads() const { return heads_; }

  torch::Tensor in_proj_weight, in_proj_bias;
  torch::nn::Linear out_proj{nullptr};

 private:
  int64_t heads_;
};
TORCH_MODULE(ClipAttention);

class ClipMlpImpl : public torch::nn::Module {
 public:
  ClipMlpImpl(int64_t width, bool quick_gelu);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear c_fc{nullptr}, c_proj{nullptr};

 private:
  bool quick_gelu_;
};
TORCH_MODULE(ClipMlp);

// x + attn(ln_1(x)); x + mlp(ln_2(x)).
class ClipResidualBlockImpl : public torch::nn::Module {
 public:
  ClipResidualBlockImpl(int64_t width, int64_t heads, bool quick_gelu);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask = {},
                        bool causal = false);
  torch::nn::LayerNorm ln_1{nullptr}, ln_2{nullptr};
  ClipAttention attn{nullptr};
  ClipMlp mlp{nullptr};
};
TORCH_MODULE(ClipResidualBlock);

class ClipTransformerImpl : public torch::nn::Module {
 public:
  ClipTransformerImpl(int64_t width, int64_t layers, int64_t heads, bool quick_gelu);
  ClipResidualBlock block(int64_t i) const;
  int64_t size() const { return static_cast<int64_t>(resblocks->size()); }
  torch::nn::ModuleList resblocks{nullptr};
};
TORCH_MODULE(ClipTransformer);

struct ClipVisionOutput {
  torch::Tensor embedding;            // [B, E]: ln_post(class token) @ proj, unnormalised.
  std::vector<torch::Tensor> layers;  // Requested block outputs, [B, 1 + gh*gw, C] each.
  torch::Tensor tokens;               // Last block's output, [B, 1 + gh*gw, C] (pre ln_post).
  int64_t grid_h = 0, grid_w = 0;
};

class ClipVisionImpl : public torch::nn::Module {
 public:
  explicit ClipVisionImpl(const ClipConfig& config);
  // images: [B, 3, H, W], CLIP-normalised; H and W multiples of the patch size. `layers`
  // are 0-based block indices whose outputs to return (the block named resblocks.N).
  ClipVisionOutput forward(const torch::Tensor& images, const std::vector<int64_t>& layers = {});
  // [1 + gh*gw, C] positional embedding for a gh x gw grid (interpolated and cached).
  torch::Tensor PositionalEmbedding(int64_t grid_h, int64_t grid_w);
  // Patch embedding + class token + positional embedding, then ln_pre: [B, 1 + n, C].
  torch::Tensor Embed(const torch::Tensor& images, int64_t* grid_h, int64_t* grid_w);
  // Drops cached interpolations (after weights or dtype change).
  void ClearCache();

  torch::Tensor class_embedding, positional_embedding, proj;
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::LayerNorm ln_pre{nullptr}, ln_post{nullptr};
  ClipTransformer transformer{nullptr};

 private:
  ClipConfig config_;
  std::mutex cache_mu_;
  std::map<std::tuple<int64_t, int64_t, int, std::string>, torch::Tensor> pos_cache_;
};
TORCH_MODULE(ClipVision);

class ClipModelImpl : public torch::nn::Module {
 public:
  explicit ClipModelImpl(const ClipConfig& config);
  const ClipConfig& config() const { return config_; }

  // tokens: [B, L] int64, each row start ... end (the largest id, as in CLIP), zero
  // padded. Returns [B, E] projected, unnormalised features (CLIP's encode_text). Rows are
  // cut after the last end token of the batch: causal attention makes the rest irrelevant.
  torch::Tensor EncodeText(const torch::Tensor& tokens);
  // CLIP's encode_image: [B, E].
  torch::Tensor EncodeImage(const torch::Tensor& images) {
    return visual->forward(images).embedding;
  }

  ClipVision visual{nullptr};
  torch::nn::Embedding token_embedding{nullptr};
  torch::Tensor positional_embedding, text_projection, logit_scale;
  ClipTransformer transformer{nullptr};
  torch::nn::LayerNorm ln_final{nullptr};

 private:
  ClipConfig config_;
};
TORCH_MODULE(ClipModel);

// Copies an OpenAI-named state dict into the model's parameters (converted to each
// parameter's dtype). Every missing, unexpected or mis-shaped key is listed by name.
absl::Status LoadClipState(ClipModel& model, const std::map<std::string, torch::Tensor>& state);

}  // namespace ovseg

#endif  // OVSEG_MODEL_CLIP_CLIP_MODEL_H_
