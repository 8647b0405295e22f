// Reads image dimensions from the file header alone, so size limits are enforced before
// any pixel is decoded (protection against decompression bombs).
#ifndef OVSEG_SERVER_IMAGE_IMAGE_HEADER_H_
#define OVSEG_SERVER_IMAGE_IMAGE_HEADER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ovseg {

enum class ImageFormat { kJpeg, kPng, kWebp, kBmp, kTiff };

struct ImageHeader {
  ImageFormat format;
  uint32_t width = 0;  // As stored, before any EXIF rotation.
  uint32_t height = 0;
};

std::string ImageFormatName(ImageFormat format);

// INVALID_ARGUMENT for unknown formats and for headers that are truncated or inconsistent.
absl::StatusOr<ImageHeader> ProbeImageHeader(absl::string_view bytes);

}  // namespace ovseg

#endif  // OVSEG_SERVER_IMAGE_IMAGE_HEADER_H_
