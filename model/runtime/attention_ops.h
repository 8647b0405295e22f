// Multi-head attention building blocks shared by the model's attention layers (TeVA,
// Mask2Former's masked attention).
#ifndef OVSEG_MODEL_RUNTIME_ATTENTION_OPS_H_
#define OVSEG_MODEL_RUNTIME_ATTENTION_OPS_H_

#include <torch/torch.h>

namespace ovseg {

// [B, T, H*d] -> [B, H, T, d] and back.
torch::Tensor SplitHeads(const torch::Tensor& x, int64_t heads);
torch::Tensor MergeHeads(const torch::Tensor& x);

// Softmax attention of q [B, H, L, d] over k/v [B, H, S, d]; `allowed` (bool, broadcast
// to [B, H, L, S], true = may attend) or undefined. On CPU in bf16/fp16, SDPA's kernels
// were ~2x slower than two plain matmuls for the shapes ovseg uses (a few hundred queries
// over up to ~1000 keys: 3.8 vs 1.8 ms per TeVA block on 2 cores), so that case takes the
// matmuls (fp32 accumulation and softmax as SDPA; only the probabilities are rounded
// before P x V); everything else takes SDPA.
torch::Tensor MaskedAttention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, const torch::Tensor& allowed);

}  // namespace ovseg

#endif  // OVSEG_MODEL_RUNTIME_ATTENTION_OPS_H_
