// Ground-truth regions as image crops for CLIP zero-shot classification ("CLIP alone on
// crops", the analysis's first stage): each segment (crowd excluded) is cut out as the
// square around its bounding box (side = the box's longer side, centred), pixels outside
// the image filled with CLIP's mean colour; kMasked also fills the pixels outside the
// segment with it (MaskCLIP's and OVSeg's masked crops), kBox keeps the context.
#ifndef OVSEG_EVALUATION_REGION_CROPS_H_
#define OVSEG_EVALUATION_REGION_CROPS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "datasets/coco_panoptic.h"

namespace ovseg {

enum class CropStyle { kMasked, kBox };
absl::StatusOr<CropStyle> ParseCropStyle(absl::string_view name);  // "masked" | "box"

struct RegionCrop {
  int category_id = 0;
  int size = 0;              // square side in pixels
  std::vector<uint8_t> rgb;  // size x size x 3, row-major
};

// `rgb`: the image's interleaved RGB8 pixels, truth.width x truth.height.
std::vector<RegionCrop> CropRegions(const uint8_t* rgb, const PanopticImage& truth,
                                    CropStyle style);

}  // namespace ovseg

#endif  // OVSEG_EVALUATION_REGION_CROPS_H_
