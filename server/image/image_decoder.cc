#include "server/image/image_decoder.h"

#include <exception>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "absl/strings/str_cat.h"
#include "server/image/image_header.h"
#include "server/image/jpeg_decoder.h"

namespace ovseg {
namespace {

absl::Status CheckDimensions(uint64_t width, uint64_t height, const ImageLimits& limits) {
  if (width == 0 || height == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("image: empty image (", width, "x", height, ")"));
  }
  if (width > limits.max_side || height > limits.max_side) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image: ", width, "x", height, " exceeds limits.max_image_side = ", limits.max_side));
  }
  if (width * height > limits.max_pixels) {
    return absl::InvalidArgumentError(
        absl::StrCat("image: ", width, "x", height, " = ", width * height,
                     " pixels exceed limits.max_image_pixels = ", limits.max_pixels));
  }
  return absl::OkStatus();
}

// libjpeg fills a truncated scan with grey and only warns; a complete JPEG ends with the
// EOI marker (possibly followed by padding), so its absence means truncation.
bool JpegHasEndMarker(const std::string& bytes) {
  const size_t pos = bytes.rfind("\xFF\xD9");
  return pos != std::string::npos && bytes.size() - pos <= (size_t{1} << 16);
}

// One pass from OpenCV's BGR into the RGB buffer the model reads.
ImageRgb8 CopyBgrToRgb(const cv::Mat& bgr) {
  ImageRgb8 out;
  out.width = bgr.cols;
  out.height = bgr.rows;
  out.pixels.resize(static_cast<size_t>(bgr.cols) * bgr.rows * 3);
  cv::Mat rgb = RgbMatView(out);
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return out;
}

}  // namespace

absl::Status CheckImageLimits(const v1::Image& image, const ImageLimits& limits, uint64_t* pixels) {
  switch (image.source_case()) {
    case v1::Image::kEncoded: {
      absl::StatusOr<ImageHeader> header = ProbeImageHeader(image.encoded());
      if (!header.ok()) return header.status();
      if (pixels != nullptr) *pixels = uint64_t{header->width} * header->height;
      return CheckDimensions(header->width, header->height, limits);
    }
    case v1::Image::kRawRgb8: {
      const v1::RawRgb8& raw = image.raw_rgb8();
      if (absl::Status s = CheckDimensions(raw.width(), raw.height(), limits); !s.ok()) return s;
      if (pixels != nullptr) *pixels = uint64_t{raw.width()} * raw.height();
      const uint64_t expected = uint64_t{raw.width()} * raw.height() * 3;
      if (raw.pixels().size() != expected) {
        return absl::InvalidArgumentError(
            absl::StrCat("image.raw_rgb8.pixels: ", raw.pixels().size(), " bytes, expected ",
                         expected, " (width * height * 3)"));
      }
      return absl::OkStatus();
    }
    case v1::Image::SOURCE_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("image: neither encoded nor raw_rgb8 is set");
}

absl::StatusOr<ImageRgb8> DecodeImage(const v1::Image& image, const ImageLimits& limits) {
  if (absl::Status s = CheckImageLimits(image, limits); !s.ok()) return s;
  if (image.source_case() == v1::Image::kRawRgb8) {
    const v1::RawRgb8& raw = image.raw_rgb8();
    ImageRgb8 out;
    out.width = static_cast<int>(raw.width());
    out.height = static_cast<int>(raw.height());
    out.pixels.assign(raw.pixels().begin(), raw.pixels().end());
    return out;
  }
  const std::string& bytes = image.encoded();
  const ImageFormat format = ProbeImageHeader(bytes)->format;
  if (format == ImageFormat::kJpeg) {
    if (!JpegHasEndMarker(bytes)) {
      return absl::InvalidArgumentError("image: truncated JPEG (no end-of-image marker)");
    }
    absl::StatusOr<ImageRgb8> rgb = DecodeJpegToRgb(bytes, limits.max_pixels);
    if (rgb.status().code() != absl::StatusCode::kFailedPrecondition) return rgb;
    // CMYK or YCCK: OpenCV converts those to BGR below.
  }
  cv::Mat bgr;
  try {
    const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8UC1,
                         const_cast<char*>(bytes.data()));
    // IMREAD_COLOR applies EXIF orientation and converts grey, alpha and 16-bit to BGR8.
    bgr = cv::imdecode(buffer, cv::IMREAD_COLOR);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("image: cannot decode ", ImageFormatName(format), ": ", e.what()));
  }
  if (bgr.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("image: corrupt or truncated ", ImageFormatName(format), " data"));
  }
  if (absl::Status s = CheckDimensions(bgr.cols, bgr.rows, limits); !s.ok()) return s;
  return CopyBgrToRgb(bgr);
}

}  // namespace ovseg
