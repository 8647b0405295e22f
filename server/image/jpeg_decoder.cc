#include "server/image/jpeg_decoder.h"

#include <algorithm>
#include <csetjmp>
#include <cstddef>
#include <cstdio>  // jpeglib.h uses FILE and size_t without including their headers.
#include <cstring>
#include <opencv2/core.hpp>

#include "absl/strings/str_cat.h"

// jpeglib.h must come after <cstdio>.
// clang-format off
#include <jerror.h>
#include <jpeglib.h>
// clang-format on

namespace ovseg {
namespace {

// libjpeg reports fatal errors through error_exit, which must not return: it longjmps
// back into RunDecompress. Everything that must survive the jump lives in this struct
// (reached through a pointer that never changes), so no local is clobbered.
struct JpegSession {
  jpeg_decompress_struct cinfo;
  jpeg_error_mgr error_manager;
  std::jmp_buf on_error;
  bool premature_end = false;
  bool unsupported_colour_space = false;
  bool too_many_pixels = false;
  int orientation = 1;
  uint64_t max_pixels = 0;
  std::string_view bytes;
  ImageRgb8* out = nullptr;
};

JpegSession* SessionOf(j_common_ptr cinfo) {
  // error_manager is the only jpeg_error_mgr we install, and it lives in a JpegSession.
  return reinterpret_cast<JpegSession*>(reinterpret_cast<char*>(cinfo->err) -
                                        offsetof(JpegSession, error_manager));
}

[[noreturn]] void OnFatalError(j_common_ptr cinfo) { std::longjmp(SessionOf(cinfo)->on_error, 1); }

// Warnings are not printed (a server's stderr is not the client's business). The ones
// that matter say the entropy-coded data ended early (at the end of the file, or at a
// marker such as an EOI appended to a cut file): libjpeg then pads the image with grey,
// which would be a silent wrong answer, so they fail the decode.
void OnMessage(j_common_ptr cinfo, int level) {
  const int code = cinfo->err->msg_code;
  if (level < 0 && (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER)) {
    SessionOf(cinfo)->premature_end = true;
  }
}

// Returns false when libjpeg raised a fatal error; the message is in the error manager.
bool RunDecompress(JpegSession* s) {
  jpeg_decompress_struct* cinfo = &s->cinfo;
  if (setjmp(s->on_error)) return false;
  jpeg_mem_src(cinfo, reinterpret_cast<const unsigned char*>(s->bytes.data()),
               static_cast<unsigned long>(s->bytes.size()));
  jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(cinfo, TRUE);
  for (jpeg_saved_marker_ptr m = cinfo->marker_list; m != nullptr; m = m->next) {
    if (m->marker != JPEG_APP0 + 1) continue;
    const int orientation =
        ExifOrientation(std::string_view(reinterpret_cast<const char*>(m->data), m->data_length));
    if (orientation != 1) s->orientation = orientation;
  }
  if (cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK) {
    s->unsupported_colour_space = true;
    return true;
  }
  if (uint64_t{cinfo->image_width} * cinfo->image_height > s->max_pixels) {
    s->too_many_pixels = true;
    return true;
  }
#ifdef JCS_EXTENSIONS
  cinfo->out_color_space = JCS_EXT_RGB;
#else
  cinfo->out_color_space = JCS_RGB;
#endif
  jpeg_start_decompress(cinfo);
  const size_t stride = size_t{cinfo->output_width} * 3;
  s->out->width = static_cast<int>(cinfo->output_width);
  s->out->height = static_cast<int>(cinfo->output_height);
  s->out->pixels.resize(stride * cinfo->output_height);
  JSAMPROW rows[16];
  while (cinfo->output_scanline < cinfo->output_height) {
    const JDIMENSION first = cinfo->output_scanline;
    const JDIMENSION count = std::min<JDIMENSION>(16, cinfo->output_height - first);
    for (JDIMENSION i = 0; i < count; ++i) rows[i] = s->out->pixels.data() + (first + i) * stride;
    jpeg_read_scanlines(cinfo, rows, count);
  }
  jpeg_finish_decompress(cinfo);
  return true;
}

}  // namespace

int ExifOrientation(std::string_view payload) {
  constexpr std::string_view kExif("Exif\0\0", 6);
  if (payload.substr(0, kExif.size()) != kExif) return 1;
  const std::string_view tiff = payload.substr(kExif.size());
  if (tiff.size() < 8) return 1;
  const bool little = tiff.substr(0, 2) == "II";
  if (!little && tiff.substr(0, 2) != "MM") return 1;
  auto byte = [&](size_t at) { return static_cast<uint32_t>(static_cast<uint8_t>(tiff[at])); };
  auto u16 = [&](size_t at) {
    return little ? byte(at) | byte(at + 1) << 8 : byte(at) << 8 | byte(at + 1);
  };
  auto u32 = [&](size_t at) {
    return little ? u16(at) | u16(at + 2) << 16 : u16(at) << 16 | u16(at + 2);
  };
  if (u16(2) != 42) return 1;
  const size_t ifd = u32(4);
  if (ifd > tiff.size() || tiff.size() - ifd < 2) return 1;
  const size_t entries = u16(ifd);
  for (size_t i = 0; i < entries; ++i) {
    const size_t entry = ifd + 2 + 12 * i;
    if (entry + 12 > tiff.size()) break;
    if (u16(entry) != 0x0112) continue;
    constexpr uint32_t kShort = 3;
    if (u16(entry + 2) != kShort) return 1;
    const uint32_t value = u16(entry + 8);
    return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
  }
  return 1;
}

ImageRgb8 ApplyExifOrientation(ImageRgb8 image, int orientation) {
  if (orientation < 2 || orientation > 8) return image;
  const cv::Mat src(image.height, image.width, CV_8UC3, image.pixels.data());
  cv::Mat upright;
  // EXIF 2..8: mirror, rotate 180, flip, transpose, rotate 90 cw, transverse, rotate 90 ccw.
  switch (orientation) {
    case 2:
      cv::flip(src, upright, 1);
      break;
    case 3:
      cv::flip(src, upright, -1);
      break;
    case 4:
      cv::flip(src, upright, 0);
      break;
    case 5:
      cv::transpose(src, upright);
      break;
    default: {
      cv::Mat transposed;
      cv::transpose(src, transposed);
      cv::flip(transposed, upright, orientation == 6 ? 1 : orientation == 7 ? -1 : 0);
    }
  }
  ImageRgb8 out;
  out.width = upright.cols;
  out.height = upright.rows;
  out.pixels.assign(upright.data, upright.data + upright.total() * 3);
  return out;
}

absl::StatusOr<ImageRgb8> DecodeJpegToRgb(std::string_view bytes, uint64_t max_pixels) {
  JpegSession session;
  session.bytes = bytes;
  session.max_pixels = max_pixels;
  ImageRgb8 image;
  session.out = &image;
  session.cinfo.err = jpeg_std_error(&session.error_manager);
  session.error_manager.error_exit = OnFatalError;
  session.error_manager.emit_message = OnMessage;
  jpeg_create_decompress(&session.cinfo);
  const bool ok = RunDecompress(&session);
  char message[JMSG_LENGTH_MAX] = {};
  if (!ok) {
    session.error_manager.format_message(reinterpret_cast<j_common_ptr>(&session.cinfo), message);
  }
  const uint64_t width = session.cinfo.image_width, height = session.cinfo.image_height;
  jpeg_destroy_decompress(&session.cinfo);
  if (!ok) return absl::InvalidArgumentError(absl::StrCat("image: corrupt JPEG: ", message));
  if (session.unsupported_colour_space) {
    return absl::FailedPreconditionError("image: CMYK/YCCK JPEG needs the general decoder");
  }
  if (session.too_many_pixels) {
    return absl::InvalidArgumentError(
        absl::StrCat("image: JPEG frame ", width, "x", height,
                     " exceeds limits.max_image_pixels = ", max_pixels));
  }
  if (session.premature_end) {
    return absl::InvalidArgumentError("image: truncated JPEG (premature end of data)");
  }
  return ApplyExifOrientation(std::move(image), session.orientation);
}

}  // namespace ovseg
