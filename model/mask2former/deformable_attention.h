// Multi-scale deformable attention (Deformable DETR), the pixel decoder's attention: each
// query reads `points` bilinear samples per head and level around its reference point,
// weighted by softmax-normalised attention weights. The sampling is the reference's
// pure-PyTorch path: grid_sample, bilinear, zero padding, align_corners=false.
#ifndef OVSEG_MODEL_MASK2FORMER_DEFORMABLE_ATTENTION_H_
#define OVSEG_MODEL_MASK2FORMER_DEFORMABLE_ATTENTION_H_

#include <torch/torch.h>

#include <utility>
#include <vector>

namespace ovseg {

using LevelShapes = std::vector<std::pair<int64_t, int64_t>>;  // (height, width) per level

// How the bilinear samples are taken; both give the same numbers (to float rounding).
enum class DeformableSampling {
  // The device's default: on CPU kCpuKernel when no gradient is wanted, else kGather;
  // kGridSample elsewhere.
  kAuto,
  // The reference's pure-PyTorch path: grid_sample per level (bilinear, zero padding,
  // align_corners=false), then the weighted sum.
  kGridSample,
  // The four corners of every sample folded with their bilinear and attention weights
  // into one weighted row gather (embedding_bag, mode sum). On CPU 4x (fp32) to 6x (bf16)
  // faster than grid_sample, whose CPU kernel is not vectorised for bf16.
  kGather,
  // deformable_sampling_cpu.h: a direct loop, inference only (CPU, fp32 or bf16).
  kCpuKernel,
};

// value [B, S, heads, d] (S = sum of h*w, levels in order); locations
// [B, Q, heads, levels, points, 2] as (x, y) in [0, 1]; weights [B, Q, heads, levels,
// points]. Returns [B, Q, heads * d].
torch::Tensor MultiScaleDeformableAttention(
    const torch::Tensor& value, const LevelShapes& shapes, const torch::Tensor& locations,
    const torch::Tensor& weights, DeformableSampling sampling = DeformableSampling::kAuto);

// The attention module with its projections; parameter names as HuggingFace's
// (sampling_offsets, attention_weights, value_proj, output_proj).
class MsDeformAttnImpl : public torch::nn::Module {
 public:
  MsDeformAttnImpl(int64_t dim, int64_t heads, int64_t levels, int64_t points);
  // queries [B, Q, C] (positional encoding already added); reference points [B, Q, levels,
  // 2] in [0, 1]; input [B, S, C] flattened over `shapes`; padding [B, S] bool or undefined.
  torch::Tensor forward(const torch::Tensor& queries, const torch::Tensor& reference_points,
                        const torch::Tensor& input, const LevelShapes& shapes,
                        const torch::Tensor& padding = {});

  torch::nn::Linear sampling_offsets{nullptr}, attention_weights{nullptr}, value_proj{nullptr},
      output_proj{nullptr};

 private:
  int64_t heads_, levels_, points_;
};
TORCH_MODULE(MsDeformAttn);

}  // namespace ovseg

#endif  // OVSEG_MODEL_MASK2FORMER_DEFORMABLE_ATTENTION_H_
