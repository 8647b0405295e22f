// COCO run-length encoding, byte-identical to pycocotools (maskApi.c): runs over the mask
// in column-major order, starting with a run of zeros (possibly empty), and the
// "compressed counts" string form (rleToString / rleFrString).
#ifndef OVSEG_COMMON_COCO_RLE_H_
#define OVSEG_COMMON_COCO_RLE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ovseg {

struct CocoRleMask {
  int height = 0;
  int width = 0;
  std::vector<uint32_t> counts;
};

// `mask` is row-major height x width; any non-zero byte is foreground.
CocoRleMask EncodeRle(const uint8_t* mask, int height, int width);

// pycocotools' compressed string of the counts.
std::string RleCountsToString(const std::vector<uint32_t>& counts);
absl::StatusOr<std::vector<uint32_t>> RleCountsFromString(const std::string& text);

// Row-major 0/1 mask; INVALID_ARGUMENT when the counts do not cover height * width exactly.
absl::StatusOr<std::vector<uint8_t>> DecodeRle(const CocoRleMask& rle);

}  // namespace ovseg

#endif  // OVSEG_COMMON_COCO_RLE_H_
