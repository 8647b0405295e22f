#include "model/mask2former/deformable_sampling_cpu.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <vector>

namespace ovseg {
namespace {

// acc[0:d] += w * row[0:d]; D > 0 fixes the width at compile time so the loop vectorises.
template <int64_t D, typename T>
inline void Accumulate(float* __restrict acc, const T* __restrict row, float w, int64_t d) {
  const int64_t n = D > 0 ? D : d;
  for (int64_t c = 0; c < n; ++c) acc[c] += w * static_cast<float>(row[c]);
}

template <int64_t D, typename T>
void Sample(const T* value, const float* locations, const float* weights, T* out, int64_t b,
            int64_t s, int64_t q, int64_t heads, int64_t d, int64_t points,
            const LevelShapes& shapes, const std::vector<int64_t>& starts) {
  const int64_t levels = static_cast<int64_t>(shapes.size());
  const int64_t per_head = levels * points;  // samples per (image, query, head)
  // `value` is [B, heads, S, d]: one head's map is contiguous, and consecutive queries
  // (neighbouring pixels) read neighbouring rows of it, so caches and prefetchers help.
  at::parallel_for(0, b * heads * q, 64, [&](int64_t begin, int64_t end) {
    float acc[D > 0 ? D : 1];
    std::vector<float> wide(D > 0 ? 0 : d);
    float* a = D > 0 ? acc : wide.data();
    for (int64_t i = begin; i < end; ++i) {
      const int64_t bh = i / q, query = i % q, image = bh / heads, h = bh % heads;
      const T* map = value + bh * s * d;
      std::fill(a, a + d, 0.0f);
      const int64_t sample0 = ((image * q + query) * heads + h) * per_head;
      for (int64_t l = 0; l < levels; ++l) {
        const int64_t height = shapes[l].first, width = shapes[l].second;
        const T* level = map + starts[l] * d;
        for (int64_t p = 0; p < points; ++p) {
          const int64_t k = sample0 + l * points + p;
          const float attention = weights[k];
          // align_corners=false: pixel centres at (i + 0.5) / size.
          const float x = locations[2 * k] * width - 0.5f;
          const float y = locations[2 * k + 1] * height - 0.5f;
          const float xf = std::floor(x), yf = std::floor(y);
          const int64_t x0 = static_cast<int64_t>(xf), y0 = static_cast<int64_t>(yf);
          const float fx = x - xf, fy = y - yf;
          for (int corner = 0; corner < 4; ++corner) {
            const int64_t xi = x0 + (corner & 1), yi = y0 + (corner >> 1);
            if (xi < 0 || yi < 0 || xi >= width || yi >= height) continue;  // zero padding
            const float w =
                attention * ((corner & 1) ? fx : 1 - fx) * ((corner >> 1) ? fy : 1 - fy);
            Accumulate<D>(a, level + (yi * width + xi) * d, w, d);
          }
        }
      }
      T* o = out + ((image * q + query) * heads + h) * d;
      for (int64_t c = 0; c < d; ++c) o[c] = static_cast<T>(a[c]);
    }
  });
}

}  // namespace

torch::Tensor DeformableSamplingCpu(const torch::Tensor& value, const LevelShapes& shapes,
                                    const torch::Tensor& locations, const torch::Tensor& weights) {
  TORCH_CHECK(value.is_cpu(), "deformable sampling kernel: CPU tensors only");
  const int64_t b = value.size(0), s = value.size(1), heads = value.size(2), d = value.size(3);
  const int64_t q = locations.size(1), points = locations.size(4);
  std::vector<int64_t> starts;
  int64_t start = 0;
  for (const auto& [h, w] : shapes) {
    starts.push_back(start);
    start += h * w;
  }
  TORCH_CHECK(start == s, "deformable attention: level shapes cover ", start,
              " positions, value has ", s);
  const torch::Tensor v = value.permute({0, 2, 1, 3}).contiguous();  // [B, heads, S, d]
  const torch::Tensor loc = locations.to(torch::kFloat32).contiguous();
  const torch::Tensor w = weights.to(torch::kFloat32).contiguous();
  torch::Tensor out = torch::empty({b, q, heads * d}, value.options());
  auto run = [&](auto tag) {
    using T = decltype(tag);
    // Mask2Former's heads are 32 wide (256 / 8): that width gets a fixed-size loop.
    auto sample = d == 32 ? Sample<32, T> : Sample<0, T>;
    sample(v.data_ptr<T>(), loc.data_ptr<float>(), w.data_ptr<float>(), out.data_ptr<T>(), b, s, q,
           heads, d, points, shapes, starts);
  };
  if (value.scalar_type() == torch::kBFloat16) {
    run(c10::BFloat16());
  } else {
    TORCH_CHECK(value.scalar_type() == torch::kFloat32,
                "deformable sampling kernel: fp32 or bf16 values, got ", value.scalar_type());
    run(float());
  }
  return out;
}

}  // namespace ovseg
