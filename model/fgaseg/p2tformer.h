// P2Tformer (FGAseg, Sec. III-B): the class embeddings, as queries, cross-attend to the
// image's dense features (keys carry a 2-D sine position encoding), through N residual
// layers `t = LN(t + Linear(attn(t, img + pos, img)))`; the output is
// `V_T_emb = V_T + gamma * t` with a learnable per-channel gamma (initialised to 0.1).
// Classes never attend to each other, so padded classes cannot disturb real ones.
// Module names as the official code (DCDT: cross_atten_text.N.*, gamma_text).
#ifndef OVSEG_MODEL_FGASEG_P2TFORMER_H_
#define OVSEG_MODEL_FGASEG_P2TFORMER_H_

#include <torch/torch.h>

namespace ovseg {

class P2TCrossAttentionImpl : public torch::nn::Module {
 public:
  P2TCrossAttentionImpl(int64_t dim, int64_t heads);
  // text [B, T, C]; image/pos [B, HW, C].
  torch::Tensor forward(const torch::Tensor& text, const torch::Tensor& image,
                        const torch::Tensor& pos);

 private:
  int64_t heads_;
  torch::Tensor in_proj_weight_, in_proj_bias_;
  torch::nn::Linear out_proj_{nullptr}, mlp_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
};
TORCH_MODULE(P2TCrossAttention);

class P2TformerImpl : public torch::nn::Module {
 public:
  P2TformerImpl(int64_t dim, int64_t heads, int64_t layers);
  // image [B, C, H, W]; text [B, T, C]. Returns [B, T, C].
  torch::Tensor forward(const torch::Tensor& image, const torch::Tensor& text);

 private:
  std::vector<P2TCrossAttention> layers_;
  torch::Tensor gamma_;
};
TORCH_MODULE(P2Tformer);

}  // namespace ovseg

#endif  // OVSEG_MODEL_FGASEG_P2TFORMER_H_
