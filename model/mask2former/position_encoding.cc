#include "model/mask2former/position_encoding.h"

#include <cmath>

namespace ovseg {

torch::Tensor SinePositionEncoding(int64_t batch, int64_t height, int64_t width, int64_t num_feats,
                                   const torch::TensorOptions& options,
                                   const torch::Tensor& padding, double temperature) {
  // Computed in fp32 whatever the model's dtype: cumulative sums and 10000^x lose too
  // much in bf16.
  const auto f32 = options.dtype(torch::kFloat32);
  const torch::Tensor inside = padding.defined() ? (~padding.to(torch::kBool)).to(f32)
                                                 : torch::ones({batch, height, width}, f32);
  constexpr double kEps = 1e-6;
  const double scale = 2 * M_PI;
  torch::Tensor y = inside.cumsum(1);
  torch::Tensor x = inside.cumsum(2);
  y = y / (y.narrow(1, height - 1, 1) + kEps) * scale;
  x = x / (x.narrow(2, width - 1, 1) + kEps) * scale;
  // Frequency k uses temperature^(2 * floor(k / 2) / num_feats): pairs share one frequency.
  const torch::Tensor k = torch::arange(num_feats, f32);
  const torch::Tensor dim_t =
      torch::pow(temperature, 2 * torch::floor_divide(k, 2) / static_cast<double>(num_feats));
  auto encode = [&](const torch::Tensor& pos) {  // [B, H, W] -> [B, H, W, num_feats]
    const torch::Tensor p = pos.unsqueeze(-1) / dim_t;
    using torch::indexing::None;
    using torch::indexing::Slice;
    return torch::stack({p.index({Slice(), Slice(), Slice(), Slice(0, None, 2)}).sin(),
                         p.index({Slice(), Slice(), Slice(), Slice(1, None, 2)}).cos()},
                        4)
        .flatten(3);
  };
  return torch::cat({encode(y), encode(x)}, 3).permute({0, 3, 1, 2}).to(options.dtype());
}

}  // namespace ovseg
