// Sizes of the FGAseg dense head (FGAseg, Sec. III; docs/design.md "FGAseg head"). The paper
// leaves dimensions open; the defaults are the official code's ViT-B/16 configuration
// (configs/vitb_384_fast_cat.yaml in LiBingyu01/FGA-seg): "fast" decoder with auxiliary
// heads, "cat" fusion of global and local similarity, P2Tformer with one layer, 3x3 text
// kernels.
#ifndef OVSEG_MODEL_FGASEG_FGASEG_CONFIG_H_
#define OVSEG_MODEL_FGASEG_FGASEG_CONFIG_H_

#include <algorithm>
#include <cstdint>
#include <vector>

namespace ovseg {

struct FgaSegConfig {
  int64_t embed_dim = 512;   // CLIP's joint space: dense features and class embeddings
  int64_t clip_width = 768;  // CLIP vision width: the guidance layers' channels
  // CLIP vision blocks (0-based) whose outputs guide the upsampling decoder: 3 and 7 for
  // B/16, 7 and 15 for L/14. The first is upsampled 2x, the second 4x.
  std::vector<int64_t> guidance_layers = {3, 7};
  int64_t hidden_dim = 128;
  int64_t text_guidance_proj_dim = 128;
  int64_t appearance_guidance_proj_dim = 128;
  std::vector<int64_t> decoder_dims = {64, 32};
  std::vector<int64_t> decoder_guidance_dims = {256, 128};  // upsample1/2 outputs
  std::vector<int64_t> decoder_guidance_proj_dims = {32, 16};
  int64_t layers = 2;   // aggregation layers (spatial + class)
  int64_t heads = 4;    // aggregation attention heads
  int64_t pooling = 2;  // class aggregation's average pooling
  int64_t window = 12;  // spatial aggregation's Swin window
  // Class aggregation always sees this many class tokens: fewer are padded with learned
  // tokens, more are cut to the ones with the highest global similarity (CAT-Seg's
  // pad_len). 0 disables both.
  int64_t pad_len = 256;
  int64_t kernel_size = 3;  // LCS and T2P text-generated kernels (the paper prefers 9)
  int64_t p2t_layers = 1;
  int64_t p2t_heads = 8;
  // Inference: classes in no pixel's top-K of the auxiliary heads skip the upsampling
  // decoder. 0 keeps every class.
  int64_t top_k = 1;
};

// The default configuration for a CLIP vision tower: its widths, and guidance from the
// blocks the paper uses (3 and 7 of B/16's 12, 7 and 15 of L/14's 24; other depths at the
// same fractions, 1/3 and 2/3 of the way, less one); towers narrower than 512 get a small
// head (below).
inline FgaSegConfig FgaSegConfigForClip(int64_t vision_layers, int64_t vision_width,
                                        int64_t embed_dim) {
  FgaSegConfig c;
  c.embed_dim = embed_dim;
  c.clip_width = vision_width;
  if (vision_layers == 12) {
    c.guidance_layers = {3, 7};
  } else if (vision_layers == 24) {
    c.guidance_layers = {7, 15};
  } else {
    const int64_t last_guidance = vision_layers - 2;  // the last block is the dense path
    c.guidance_layers = {std::max<int64_t>(0, std::min(vision_layers / 3, last_guidance)),
                         std::max<int64_t>(0, std::min(2 * vision_layers / 3, last_guidance))};
  }
  if (vision_width < 512) {
    // CLIPs narrower than any public one are the small ones ovseg trains itself (the
    // synthetic world's, with a few dozen classes): the head shrinks with them, a quarter
    // of most widths, one aggregation layer, and no padding of the class axis to 256
    // (which would make a 50-class vocabulary cost as much as a 256-class one).
    c.hidden_dim = 32;
    c.text_guidance_proj_dim = 32;
    c.appearance_guidance_proj_dim = 32;
    c.decoder_dims = {16, 16};  // hidden / 2, and GroupNorm needs 16
    c.decoder_guidance_dims = {64, 32};
    c.decoder_guidance_proj_dims = {16, 8};
    c.layers = 1;
    c.heads = 2;
    c.window = 8;
    c.pad_len = 0;
    c.p2t_heads = 2;
  }
  return c;
}

}  // namespace ovseg

#endif  // OVSEG_MODEL_FGASEG_FGASEG_CONFIG_H_
