#include "model/teva/mask_components.h"

#include <algorithm>

namespace ovseg {

std::vector<int32_t> LabelComponents(const uint8_t* mask, int64_t height, int64_t width,
                                     std::vector<int64_t>* sizes) {
  const int64_t n = height * width;
  std::vector<int32_t> label(static_cast<size_t>(n), 0);
  sizes->clear();
  std::vector<int64_t> stack;
  for (int64_t seed = 0; seed < n; ++seed) {
    if (mask[seed] == 0 || label[seed] != 0) continue;
    sizes->push_back(0);
    const int32_t id = static_cast<int32_t>(sizes->size());
    label[seed] = id;
    stack.push_back(seed);
    while (!stack.empty()) {
      const int64_t p = stack.back();
      stack.pop_back();
      ++sizes->back();
      const int64_t y = p / width, x = p % width;
      for (int64_t dy = -1; dy <= 1; ++dy) {
        for (int64_t dx = -1; dx <= 1; ++dx) {
          const int64_t ny = y + dy, nx = x + dx;
          if (ny < 0 || ny >= height || nx < 0 || nx >= width) continue;
          const int64_t q = ny * width + nx;
          if (mask[q] != 0 && label[q] == 0) {
            label[q] = id;
            stack.push_back(q);
          }
        }
      }
    }
  }
  return label;
}

int64_t KeepMainComponents(uint8_t* mask, int64_t height, int64_t width, double min_fraction) {
  std::vector<int64_t> sizes;
  const std::vector<int32_t> label = LabelComponents(mask, height, width, &sizes);
  if (sizes.size() <= 1) return sizes.empty() ? 0 : sizes[0];
  const int64_t largest = *std::max_element(sizes.begin(), sizes.end());
  std::vector<bool> keep(sizes.size());
  int64_t kept = 0;
  for (size_t c = 0; c < sizes.size(); ++c) {
    keep[c] = static_cast<double>(sizes[c]) >= min_fraction * static_cast<double>(largest);
    if (keep[c]) kept += sizes[c];
  }
  const int64_t n = height * width;
  for (int64_t p = 0; p < n; ++p) {
    if (label[p] != 0 && !keep[static_cast<size_t>(label[p] - 1)]) mask[p] = 0;
  }
  return kept;
}

}  // namespace ovseg
