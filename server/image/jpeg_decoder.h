// JPEG straight to RGB8 with libjpeg-turbo. This is the hot path of a Segment request:
// OpenCV 4.6's imdecode asks libjpeg for RGB, swaps it to BGR in a scalar byte loop that
// costs more than the decode itself, and the server then swaps it back. Here libjpeg
// writes RGB rows directly into the buffer the model will read.
#ifndef OVSEG_SERVER_IMAGE_JPEG_DECODER_H_
#define OVSEG_SERVER_IMAGE_JPEG_DECODER_H_

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "model/api/segmentation_pipeline.h"

namespace ovseg {

// Decodes a baseline or progressive JPEG (YCbCr, RGB or greyscale) to RGB8 and applies the
// EXIF orientation. Corrupt or truncated data is INVALID_ARGUMENT. CMYK and YCCK files,
// which libjpeg cannot convert to RGB, are FAILED_PRECONDITION so that the caller can use
// a general decoder instead. `max_pixels` is checked against the frame header before any
// pixel buffer is allocated.
absl::StatusOr<ImageRgb8> DecodeJpegToRgb(std::string_view bytes, uint64_t max_pixels);

// The EXIF orientation (1..8) stored in an APP1 "Exif" payload, or 1 when the payload
// has none or is malformed. Exposed for tests.
int ExifOrientation(std::string_view app1_payload);

// Applies an EXIF orientation (1..8) so that the image reads upright.
ImageRgb8 ApplyExifOrientation(ImageRgb8 image, int orientation);

}  // namespace ovseg

#endif  // OVSEG_SERVER_IMAGE_JPEG_DECODER_H_
