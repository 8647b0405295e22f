#include "server/image/image_header.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace ovseg {
namespace {

uint32_t Be16(const unsigned char* p) { return (uint32_t{p[0]} << 8) | p[1]; }
uint32_t Be32(const unsigned char* p) { return (Be16(p) << 16) | Be16(p + 2); }
uint32_t Le16(const unsigned char* p) { return (uint32_t{p[1]} << 8) | p[0]; }
uint32_t Le32(const unsigned char* p) { return (Le16(p + 2) << 16) | Le16(p); }

absl::Status Truncated(ImageFormat f) {
  return absl::InvalidArgumentError(
      absl::StrCat("image: truncated ", ImageFormatName(f), " header"));
}

absl::StatusOr<ImageHeader> ProbePng(const unsigned char* p, size_t n) {
  if (n < 24) return Truncated(ImageFormat::kPng);
  if (std::string_view(reinterpret_cast<const char*>(p + 12), 4) != "IHDR") {
    return absl::InvalidArgumentError("image: PNG without IHDR chunk");
  }
  return ImageHeader{ImageFormat::kPng, Be32(p + 16), Be32(p + 20)};
}

absl::StatusOr<ImageHeader> ProbeJpeg(const unsigned char* p, size_t n) {
  size_t i = 2;
  while (true) {
    // Markers may be preceded by any number of 0xFF fill bytes.
    if (i >= n || p[i] != 0xFF) {
      if (i >= n) return Truncated(ImageFormat::kJpeg);
      return absl::InvalidArgumentError("image: corrupt JPEG marker stream");
    }
    while (i < n && p[i] == 0xFF) ++i;
    if (i >= n) return Truncated(ImageFormat::kJpeg);
    const unsigned char marker = p[i++];
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;
    if (marker == 0xDA || marker == 0xD9) {
      return absl::InvalidArgumentError("image: JPEG has no frame header before its scan");
    }
    if (i + 2 > n) return Truncated(ImageFormat::kJpeg);
    const uint32_t length = Be16(p + i);
    if (length < 2) return absl::InvalidArgumentError("image: corrupt JPEG segment length");
    const bool is_sof =
        marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (is_sof) {
      if (i + 7 > n) return Truncated(ImageFormat::kJpeg);
      return ImageHeader{ImageFormat::kJpeg, Be16(p + i + 5), Be16(p + i + 3)};
    }
    i += length;
  }
}

absl::StatusOr<ImageHeader> ProbeBmp(const unsigned char* p, size_t n) {
  if (n < 26) return Truncated(ImageFormat::kBmp);
  const uint32_t dib_size = Le32(p + 14);
  if (dib_size == 12) return ImageHeader{ImageFormat::kBmp, Le16(p + 18), Le16(p + 20)};
  const int32_t w = static_cast<int32_t>(Le32(p + 18));
  const int32_t h = static_cast<int32_t>(Le32(p + 22));  // Negative: top-down rows.
  if (w <= 0 || h == INT32_MIN) return absl::InvalidArgumentError("image: corrupt BMP size");
  return ImageHeader{ImageFormat::kBmp, static_cast<uint32_t>(w),
                     static_cast<uint32_t>(std::abs(h))};
}

absl::StatusOr<ImageHeader> ProbeWebp(const unsigned char* p, size_t n) {
  if (n < 30) return Truncated(ImageFormat::kWebp);
  const std::string_view chunk(reinterpret_cast<const char*>(p + 12), 4);
  if (chunk == "VP8 ") {
    if (p[23] != 0x9D || p[24] != 0x01 || p[25] != 0x2A) {
      return absl::InvalidArgumentError("image: corrupt WebP VP8 frame header");
    }
    return ImageHeader{ImageFormat::kWebp, Le16(p + 26) & 0x3FFF, Le16(p + 28) & 0x3FFF};
  }
  if (chunk == "VP8L") {
    if (p[20] != 0x2F) return absl::InvalidArgumentError("image: corrupt WebP lossless header");
    const uint32_t bits = Le32(p + 21);
    return ImageHeader{ImageFormat::kWebp, (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1};
  }
  if (chunk == "VP8X") {
    // Flags byte: bit 1 marks an animation, which the decoder cannot read (it would
    // report the frames as corrupt data).
    if (p[20] & 0x02) {
      return absl::InvalidArgumentError(
          "image: animated WebP is not supported; send a single frame");
    }
    const uint32_t w = (p[24] | (uint32_t{p[25]} << 8) | (uint32_t{p[26]} << 16)) + 1;
    const uint32_t h = (p[27] | (uint32_t{p[28]} << 8) | (uint32_t{p[29]} << 16)) + 1;
    return ImageHeader{ImageFormat::kWebp, w, h};
  }
  return absl::InvalidArgumentError("image: unknown WebP chunk");
}

absl::StatusOr<ImageHeader> ProbeTiff(const unsigned char* p, size_t n) {
  const bool le = p[0] == 'I';
  auto u16 = [&](size_t at) { return le ? Le16(p + at) : Be16(p + at); };
  auto u32 = [&](size_t at) { return le ? Le32(p + at) : Be32(p + at); };
  if (n < 8) return Truncated(ImageFormat::kTiff);
  const uint64_t ifd = u32(4);
  if (ifd + 2 > n) return Truncated(ImageFormat::kTiff);
  const uint32_t entries = u16(ifd);
  uint32_t width = 0, height = 0;
  for (uint32_t e = 0; e < entries; ++e) {
    const uint64_t at = ifd + 2 + uint64_t{e} * 12;
    if (at + 12 > n) return Truncated(ImageFormat::kTiff);
    const uint32_t tag = u16(at);
    const uint32_t type = u16(at + 2);
    if (tag != 256 && tag != 257) continue;
    const uint32_t value = type == 3 ? u16(at + 8) : type == 4 ? u32(at + 8) : 0;
    (tag == 256 ? width : height) = value;
  }
  if (width == 0 || height == 0) {
    return absl::InvalidArgumentError("image: TIFF without ImageWidth/ImageLength");
  }
  return ImageHeader{ImageFormat::kTiff, width, height};
}

}  // namespace

std::string ImageFormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "JPEG";
    case ImageFormat::kPng:
      return "PNG";
    case ImageFormat::kWebp:
      return "WebP";
    case ImageFormat::kBmp:
      return "BMP";
    case ImageFormat::kTiff:
      return "TIFF";
  }
  return "unknown";
}

absl::StatusOr<ImageHeader> ProbeImageHeader(absl::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  if (n == 0) return absl::InvalidArgumentError("image: empty image bytes");
  if (absl::StartsWith(bytes, "\x89PNG\r\n\x1a\n")) return ProbePng(p, n);
  if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return ProbeJpeg(p, n);
  if (absl::StartsWith(bytes, "BM")) return ProbeBmp(p, n);
  if (n >= 12 && absl::StartsWith(bytes, "RIFF") && bytes.substr(8, 4) == "WEBP") {
    return ProbeWebp(p, n);
  }
  if (absl::StartsWith(bytes, absl::string_view("II*\0", 4)) ||
      absl::StartsWith(bytes, absl::string_view("MM\0*", 4))) {
    return ProbeTiff(p, n);
  }
  return absl::InvalidArgumentError(
      "image: unrecognised format (expected JPEG, PNG, WebP, BMP or TIFF)");
}

}  // namespace ovseg
