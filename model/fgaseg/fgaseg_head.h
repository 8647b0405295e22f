// The FGAseg dense head (FGAseg, Sec. III; docs/design.md "FGAseg head"), from CLIP's dense
// features and the request's class embeddings to per-class mask logits at 4x the feature
// grid:
//   P2Tformer refines the class embeddings on the image; GCS (cosine similarity) and LCS
//   (text-generated local kernels) give two cost volumes, each embedded by a 7x7 conv and
//   fused; aggregation layers refine them (spatial Swin blocks with appearance guidance,
//   class attention with text guidance); an upsampling decoder with CLIP guidance from
//   intermediate layers (2x and 4x transposed-conv upsampled) and the re-injected LCS
//   embedding produces the logits. Auxiliary heads score the classes along the way.
//
// Inference acceleration (Top-K): after aggregation, a class that is in no pixel's top-K
// of the auxiliary head skips the first upsampling block, and again before the second.
// Aggregation itself always sees every class, so a kept class's logits are exactly what
// they would be without the selection; the official code also selects before
// aggregation, which changes the kept classes (class attention mixes classes), and is
// not followed here. Skipped classes read -100.
//
// Training adds the auxiliary logits and the T2P alignment map. Module names are the
// official code's (DCDT, proj, transformer.*, upsample1/2).
#ifndef OVSEG_MODEL_FGASEG_FGASEG_HEAD_H_
#define OVSEG_MODEL_FGASEG_FGASEG_HEAD_H_

#include <torch/torch.h>

#include <vector>

#include "model/fgaseg/cost_aggregation.h"
#include "model/fgaseg/fgaseg_config.h"
#include "model/fgaseg/p2tformer.h"
#include "model/fgaseg/text_kernels.h"
#include "model/fgaseg/upsampling_decoder.h"

namespace ovseg {

struct FgaSegInputs {
  torch::Tensor dense;                  // [B, embed_dim, h, w]: CLIP's dense features
  std::vector<torch::Tensor> guidance;  // [B, clip_width, h, w] per config.guidance_layers
  torch::Tensor classes;                // [B, T, embed_dim] class embeddings
  torch::Tensor class_valid;            // [B, T] bool; false = batch padding
};

struct FgaSegOutputs {
  torch::Tensor logits;  // [B, T, 4h, 4w]; padding and skipped classes: -100
  torch::Tensor kept;    // [B, T] bool: classes that went through the whole decoder
  // Training only (undefined otherwise):
  torch::Tensor aux0, aux1;  // [B, T, h, w]: before and after aggregation
  torch::Tensor aux2;        // [B, T, 2h, 2w]: after the first upsampling block
  torch::Tensor alignment;   // [B, T, 4h, 4w]: the T2P branch
};

constexpr float kFgaSegSkippedLogit = -100.0f;

class FgaSegHeadImpl : public torch::nn::Module {
 public:
  explicit FgaSegHeadImpl(const FgaSegConfig& config);
  // training_outputs: also compute the auxiliary heads and the T2P branch, and never skip
  // classes (what training needs; serving leaves it false).
  FgaSegOutputs forward(const FgaSegInputs& inputs, bool training_outputs = false);
  const FgaSegConfig& config() const { return config_; }
  // The parameters that only the training objective uses (the T2P branch).
  std::vector<torch::Tensor> TrainingOnlyParameters();

 private:
  torch::Tensor ChannelLinear(torch::nn::Linear& linear, const torch::Tensor& x, int64_t dim);
  FgaSegConfig config_;
  P2Tformer p2t_{nullptr};
  T2PAlignment t2p_{nullptr};
  torch::nn::ConvTranspose2d upsample1_{nullptr}, upsample2_{nullptr};
  // transformer.*
  LocalAlignment local_align_{nullptr};
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::Linear conv_cat_{nullptr}, conv_cat_decoder_1_{nullptr}, conv_cat_decoder_2_{nullptr};
  torch::nn::Conv2d guidance_projection_{nullptr};
  torch::nn::Linear text_guidance_projection_{nullptr};
  std::vector<torch::nn::Conv2d> decoder_guidance_projection_;
  std::vector<AggregationLayer> layers_;
  torch::nn::ConvTranspose2d local_up_{nullptr};
  torch::nn::Sequential local_conv_{nullptr};
  UpBlock decoder1_{nullptr}, decoder2_{nullptr};
  torch::nn::Conv2d head_{nullptr}, head_aux0_{nullptr}, head_aux1_{nullptr}, head_aux2_{nullptr};
};
TORCH_MODULE(FgaSegHead);

}  // namespace ovseg

#endif  // OVSEG_MODEL_FGASEG_FGASEG_HEAD_H_
