// Request image -> RGB8 pixels: header limits first, then a full decode with OpenCV
// (EXIF orientation applied; grayscale, alpha and 16-bit converted to 8-bit RGB).
#ifndef OVSEG_SERVER_IMAGE_IMAGE_DECODER_H_
#define OVSEG_SERVER_IMAGE_IMAGE_DECODER_H_

#include <cstdint>
#include <opencv2/core.hpp>

#include "absl/status/statusor.h"
#include "ovseg/v1/segmentation.pb.h"

namespace ovseg {

struct ImageLimits {
  uint64_t max_pixels = uint64_t{4096} * 4096;
  uint32_t max_side = 16384;
};

// Cheap: reads only the header (or the raw dimensions). INVALID_ARGUMENT naming the limit
// and the value when the image is too large, or naming the problem when it is malformed.
absl::Status CheckImageLimits(const v1::Image& image, const ImageLimits& limits);

// Full decode into a CV_8UC3 matrix in RGB order. Truncated or corrupt files are
// INVALID_ARGUMENT, never a partially grey image.
absl::StatusOr<cv::Mat> DecodeImage(const v1::Image& image, const ImageLimits& limits);

}  // namespace ovseg

#endif  // OVSEG_SERVER_IMAGE_IMAGE_DECODER_H_
