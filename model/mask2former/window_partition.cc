#include "model/mask2former/window_partition.h"

namespace ovseg {

torch::Tensor PartitionWindows(const torch::Tensor& x, int64_t w) {
  const int64_t b = x.size(0), h = x.size(1), wd = x.size(2), c = x.size(3);
  return x.view({b, h / w, w, wd / w, w, c}).permute({0, 1, 3, 2, 4, 5}).reshape({-1, w * w, c});
}

torch::Tensor MergeWindows(const torch::Tensor& windows, int64_t w, int64_t h, int64_t wd) {
  const int64_t c = windows.size(-1);
  return windows.view({-1, h / w, wd / w, w, w, c})
      .permute({0, 1, 3, 2, 4, 5})
      .reshape({-1, h, wd, c});
}

torch::Tensor ShiftedWindowMask(int64_t h, int64_t wd, int64_t w, int64_t shift,
                                const torch::TensorOptions& options) {
  auto region = [&](int64_t size) {
    torch::Tensor r = torch::zeros({size}, torch::kLong);
    r.narrow(0, size - w, w - shift).fill_(1);
    r.narrow(0, size - shift, shift).fill_(2);
    return r;
  };
  const torch::Tensor ids =
      (region(h).view({h, 1}) * 3 + region(wd).view({1, wd})).view({1, h, wd, 1});
  const torch::Tensor windows = PartitionWindows(ids, w).squeeze(-1);  // [nW, w*w]
  const torch::Tensor differ = windows.unsqueeze(1) != windows.unsqueeze(2);
  return torch::zeros(differ.sizes(), options).masked_fill(differ, -100.0);
}

}  // namespace ovseg
