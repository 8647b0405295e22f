// Window partitioning for Swin-style attention, shared by the Swin backbone and FGAseg's
// spatial aggregation: non-overlapping w x w windows (batch-major order) and the additive
// mask of shifted windows.
#ifndef OVSEG_MODEL_MASK2FORMER_WINDOW_PARTITION_H_
#define OVSEG_MODEL_MASK2FORMER_WINDOW_PARTITION_H_

#include <torch/torch.h>

namespace ovseg {

// [B, H, W, C] (H, W multiples of w) -> [B * (H/w) * (W/w), w * w, C].
torch::Tensor PartitionWindows(const torch::Tensor& x, int64_t w);
// Inverse of PartitionWindows for an h x wd map.
torch::Tensor MergeWindows(const torch::Tensor& windows, int64_t w, int64_t h, int64_t wd);
// For a map of h x wd cyclically shifted by `shift`: a window may hold pixels from up to
// 3x3 regions that were not neighbours; pairs from different regions get -100, as the
// reference Swin. [windows, w*w, w*w].
torch::Tensor ShiftedWindowMask(int64_t h, int64_t wd, int64_t w, int64_t shift,
                                const torch::TensorOptions& options);

}  // namespace ovseg

#endif  // OVSEG_MODEL_MASK2FORMER_WINDOW_PARTITION_H_
