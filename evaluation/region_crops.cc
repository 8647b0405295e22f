#include "evaluation/region_crops.h"

#include <algorithm>
#include <climits>

#include "absl/strings/str_cat.h"

namespace ovseg {
namespace {

// CLIP's normalisation mean, in 8-bit RGB: what a normalised pixel of 0 looks like.
constexpr uint8_t kMean[3] = {123, 117, 104};

}  // namespace

absl::StatusOr<CropStyle> ParseCropStyle(absl::string_view name) {
  if (name == "masked") return CropStyle::kMasked;
  if (name == "box") return CropStyle::kBox;
  return absl::InvalidArgumentError(
      absl::StrCat("crop style \"", name, "\": expected masked or box"));
}

std::vector<RegionCrop> CropRegions(const uint8_t* rgb, const PanopticImage& truth,
                                    CropStyle style) {
  std::vector<RegionCrop> crops;
  const int w = truth.width, h = truth.height;
  for (const PanopticSegment& seg : truth.segments) {
    if (seg.iscrowd) continue;
    int x0 = INT_MAX, y0 = INT_MAX, x1 = -1, y1 = -1;
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        if (truth.ids[static_cast<size_t>(y) * w + x] != seg.id) continue;
        x0 = std::min(x0, x);
        y0 = std::min(y0, y);
        x1 = std::max(x1, x);
        y1 = std::max(y1, y);
      }
    }
    if (x1 < 0) continue;
    const int side = std::max(x1 - x0 + 1, y1 - y0 + 1);
    const int left = (x0 + x1 + 1) / 2 - side / 2, top = (y0 + y1 + 1) / 2 - side / 2;
    RegionCrop crop;
    crop.category_id = seg.category_id;
    crop.size = side;
    crop.rgb.resize(static_cast<size_t>(side) * side * 3);
    for (int cy = 0; cy < side; ++cy) {
      for (int cx = 0; cx < side; ++cx) {
        const int x = left + cx, y = top + cy;
        uint8_t* out = &crop.rgb[(static_cast<size_t>(cy) * side + cx) * 3];
        const bool inside_image = x >= 0 && y >= 0 && x < w && y < h;
        const size_t at = static_cast<size_t>(y) * w + x;
        const bool keep = inside_image && (style == CropStyle::kBox || truth.ids[at] == seg.id);
        for (int c = 0; c < 3; ++c) out[c] = keep ? rgb[at * 3 + c] : kMean[c];
      }
    }
    crops.push_back(std::move(crop));
  }
  return crops;
}

}  // namespace ovseg
