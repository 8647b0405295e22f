// Request image -> RGB8 pixels: header limits first, then a full decode (JPEG with
// libjpeg-turbo straight to RGB, other formats with OpenCV; EXIF orientation applied;
// grayscale, alpha and 16-bit converted to 8-bit RGB).
#ifndef OVSEG_SERVER_IMAGE_IMAGE_DECODER_H_
#define OVSEG_SERVER_IMAGE_IMAGE_DECODER_H_

#include <cstdint>
#include <opencv2/core.hpp>

#include "absl/status/statusor.h"
#include "model/api/segmentation_pipeline.h"
#include "ovseg/v1/segmentation.pb.h"

namespace ovseg {

struct ImageLimits {
  uint64_t max_pixels = uint64_t{4096} * 4096;
  uint32_t max_side = 16384;
};

// Cheap: reads only the header (or the raw dimensions). INVALID_ARGUMENT naming the limit
// and the value when the image is too large, or naming the problem when it is malformed.
// On success, `pixels` (if given) gets width x height as stored.
absl::Status CheckImageLimits(const v1::Image& image, const ImageLimits& limits,
                              uint64_t* pixels = nullptr);

// Full decode into interleaved RGB8. Truncated or corrupt files are INVALID_ARGUMENT,
// never a partially grey image.
absl::StatusOr<ImageRgb8> DecodeImage(const v1::Image& image, const ImageLimits& limits);

// A CV_8UC3 matrix sharing the image's pixels (no copy); valid while `image` lives and is
// not resized. OpenCV has no const matrices, so the caller keeps the promise not to write.
inline cv::Mat RgbMatView(const ImageRgb8& image) {
  return cv::Mat(image.height, image.width, CV_8UC3, const_cast<uint8_t*>(image.pixels.data()));
}

}  // namespace ovseg

#endif  // OVSEG_SERVER_IMAGE_IMAGE_DECODER_H_
