#include <gtest/gtest.h>

#include <functional>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "server/image/image_decoder.h"
// jpeglib.h uses FILE and size_t without including their headers.
// clang-format off
#include <cstdio>
#include <jpeglib.h>
// clang-format on
#include "server/image/image_header.h"
#include "server/image/jpeg_decoder.h"
#include "server/image/shape_bucket.h"

namespace ovseg {
namespace {

// A 40x30 test picture: red left half, blue right half (BGR order for OpenCV).
cv::Mat Picture(int type = CV_8UC3) {
  cv::Mat bgr(30, 40, CV_8UC3, cv::Scalar(255, 0, 0));
  bgr(cv::Rect(0, 0, 20, 30)).setTo(cv::Scalar(0, 0, 255));
  if (type == CV_8UC3) return bgr;
  cv::Mat out;
  if (type == CV_8UC1) cv::cvtColor(bgr, out, cv::COLOR_BGR2GRAY);
  if (type == CV_8UC4) cv::cvtColor(bgr, out, cv::COLOR_BGR2BGRA);
  if (type == CV_16UC3) bgr.convertTo(out, CV_16UC3, 257.0);
  return out;
}

std::string Encode(const std::string& ext, const cv::Mat& m) {
  std::vector<uchar> buf;
  EXPECT_TRUE(cv::imencode(ext, m, buf));
  return std::string(buf.begin(), buf.end());
}

v1::Image Encoded(const std::string& bytes) {
  v1::Image image;
  image.set_encoded(bytes);
  return image;
}

class FormatTest : public ::testing::TestWithParam<std::pair<std::string, ImageFormat>> {};

TEST_P(FormatTest, HeaderAndDecodeAgree) {
  const auto& [ext, format] = GetParam();
  const std::string bytes = Encode(ext, Picture());
  auto header = ProbeImageHeader(bytes);
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->format, format);
  EXPECT_EQ(header->width, 40u);
  EXPECT_EQ(header->height, 30u);
  auto decoded = DecodeImage(Encoded(bytes), {});
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->pixels.size(), 40u * 30 * 3);
  const cv::Mat rgb = RgbMatView(*decoded);
  EXPECT_EQ(rgb.cols, 40);
  // RGB order: left is red, right is blue (lossy formats within a tolerance).
  const cv::Vec3b left = rgb.at<cv::Vec3b>(15, 5), right = rgb.at<cv::Vec3b>(15, 35);
  EXPECT_GT(left[0], 200);
  EXPECT_LT(left[2], 60);
  EXPECT_GT(right[2], 200);
  EXPECT_LT(right[0], 60);
}

INSTANTIATE_TEST_SUITE_P(AllFormats, FormatTest,
                         ::testing::Values(std::make_pair(".jpg", ImageFormat::kJpeg),
                                           std::make_pair(".png", ImageFormat::kPng),
                                           std::make_pair(".webp", ImageFormat::kWebp),
                                           std::make_pair(".bmp", ImageFormat::kBmp),
                                           std::make_pair(".tiff", ImageFormat::kTiff)));

TEST(DecodeTest, GrayAlphaAnd16BitBecomeRgb8) {
  for (int type : {CV_8UC1, CV_8UC4, CV_16UC3}) {
    auto rgb = DecodeImage(Encoded(Encode(".png", Picture(type))), {});
    ASSERT_TRUE(rgb.ok()) << rgb.status();
    EXPECT_EQ(rgb->width, 40);
    EXPECT_EQ(rgb->height, 30);
    EXPECT_EQ(rgb->pixels.size(), 40u * 30 * 3);
  }
}

TEST(DecodeTest, ExifOrientationIsApplied) {
  std::string jpeg = Encode(".jpg", Picture());
  // APP1 Exif segment, little-endian TIFF, one IFD entry: Orientation (0x0112) = 6
  // (rotate 90 degrees clockwise to display).
  const std::string tiff("II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0\0\0\0\0", 26);
  const std::string payload = std::string("Exif\0\0", 6) + tiff;
  std::string app1 = "\xFF\xE1";
  app1.push_back(static_cast<char>((payload.size() + 2) >> 8));
  app1.push_back(static_cast<char>((payload.size() + 2) & 0xFF));
  jpeg.insert(2, app1 + payload);
  auto rgb = DecodeImage(Encoded(jpeg), {});
  ASSERT_TRUE(rgb.ok()) << rgb.status();
  EXPECT_EQ(rgb->width, 30);  // Rotated.
  EXPECT_EQ(rgb->height, 40);
  // Red (left) becomes the top after a clockwise rotation.
  EXPECT_GT(RgbMatView(*rgb).at<cv::Vec3b>(5, 15)[0], 200);
}

// Every EXIF orientation, on a 3x2 image whose pixels are all distinct, against the
// definition: orientation o maps the stored image to the displayed one.
TEST(DecodeTest, AllExifOrientations) {
  ImageRgb8 stored{3, 2, {}};
  for (int i = 0; i < 6; ++i) stored.pixels.insert(stored.pixels.end(), 3, uint8_t(10 * i));
  auto at = [](const ImageRgb8& im, int x, int y) { return im.pixels[(y * im.width + x) * 3]; };
  // Displayed (x, y) -> stored (x, y) for a 3x2 stored image, per orientation.
  struct Case {
    int o, w, h;
    std::function<std::pair<int, int>(int, int)> source;
  };
  const std::vector<Case> cases = {
      {1, 3, 2, [](int x, int y) { return std::make_pair(x, y); }},
      {2, 3, 2, [](int x, int y) { return std::make_pair(2 - x, y); }},
      {3, 3, 2, [](int x, int y) { return std::make_pair(2 - x, 1 - y); }},
      {4, 3, 2, [](int x, int y) { return std::make_pair(x, 1 - y); }},
      {5, 2, 3, [](int x, int y) { return std::make_pair(y, x); }},
      {6, 2, 3, [](int x, int y) { return std::make_pair(y, 1 - x); }},
      {7, 2, 3, [](int x, int y) { return std::make_pair(2 - y, 1 - x); }},
      {8, 2, 3, [](int x, int y) { return std::make_pair(2 - y, x); }},
  };
  for (const Case& c : cases) {
    const ImageRgb8 shown = ApplyExifOrientation(stored, c.o);
    ASSERT_EQ(shown.width, c.w) << c.o;
    ASSERT_EQ(shown.height, c.h) << c.o;
    for (int y = 0; y < c.h; ++y) {
      for (int x = 0; x < c.w; ++x) {
        const auto [sx, sy] = c.source(x, y);
        EXPECT_EQ(at(shown, x, y), at(stored, sx, sy)) << "orientation " << c.o;
      }
    }
  }
}

TEST(DecodeTest, ExifParserIsBoundsChecked) {
  const std::string big_endian("Exif\0\0MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x03\0\0",
                               28);
  EXPECT_EQ(ExifOrientation(big_endian), 3);
  for (size_t n = 0; n < big_endian.size(); ++n) {
    EXPECT_EQ(ExifOrientation(big_endian.substr(0, n)), 1) << n;  // Truncated: ignored.
  }
  std::string bad_offset = big_endian;
  bad_offset[13] = '\x7f';  // IFD offset past the end.
  EXPECT_EQ(ExifOrientation(bad_offset), 1);
  EXPECT_EQ(ExifOrientation("JFIF"), 1);
}

// The fast JPEG path and OpenCV's decoder see the same pixels (both use libjpeg's
// default IDCT and upsampling), including greyscale files.
TEST(DecodeTest, JpegFastPathMatchesOpenCv) {
  cv::Mat photo(48, 64, CV_8UC3);
  cv::randu(photo, 0, 255);
  cv::GaussianBlur(photo, photo, {5, 5}, 2);
  cv::Mat grey;
  cv::cvtColor(photo, grey, cv::COLOR_BGR2GRAY);
  for (const cv::Mat& m : {photo, grey}) {
    const std::string jpeg = Encode(".jpg", m);
    auto fast = DecodeImage(Encoded(jpeg), {});
    ASSERT_TRUE(fast.ok()) << fast.status();
    cv::Mat reference =
        cv::imdecode(cv::Mat(1, jpeg.size(), CV_8UC1, (void*)jpeg.data()), cv::IMREAD_COLOR);
    cv::cvtColor(reference, reference, cv::COLOR_BGR2RGB);
    EXPECT_LE(cv::norm(RgbMatView(*fast), reference, cv::NORM_INF), 1.0) << m.channels();
  }
}

TEST(DecodeTest, CutJpegWithEndMarkerAppendedIsTruncated) {
  cv::Mat photo(64, 64, CV_8UC3);
  cv::randu(photo, 0, 255);
  const std::string jpeg = Encode(".jpg", photo);
  const std::string cut = jpeg.substr(0, jpeg.size() / 2) + "\xFF\xD9";
  EXPECT_EQ(DecodeImage(Encoded(cut), {}).status().message(),
            "image: truncated JPEG (premature end of data)");
}

// OpenCV cannot write CMYK JPEGs, so libjpeg writes one here: a cyan left half and a
// yellow right half (Adobe-style inverted CMYK, as OpenCV's reader expects).
std::string CmykJpeg() {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr err;
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = 40;
  cinfo.image_height = 30;
  cinfo.input_components = 4;
  cinfo.in_color_space = JCS_CMYK;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 95, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  std::vector<unsigned char> row(40 * 4);
  for (int x = 0; x < 40; ++x) {
    // Stored inverted: 255 means no ink.
    const unsigned char c = x < 20 ? 0 : 255, y = x < 20 ? 255 : 0;
    row[x * 4 + 0] = c;
    row[x * 4 + 1] = 255;
    row[x * 4 + 2] = y;
    row[x * 4 + 3] = 255;
  }
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW r = row.data();
    jpeg_write_scanlines(&cinfo, &r, 1);
  }
  jpeg_finish_compress(&cinfo);
  std::string out(reinterpret_cast<char*>(buffer), size);
  jpeg_destroy_compress(&cinfo);
  free(buffer);
  return out;
}

TEST(DecodeTest, CmykJpegFallsBackToTheGeneralDecoder) {
  const std::string jpeg = CmykJpeg();
  EXPECT_EQ(DecodeJpegToRgb(jpeg, 1 << 20).status().code(), absl::StatusCode::kFailedPrecondition);
  auto rgb = DecodeImage(Encoded(jpeg), {});
  ASSERT_TRUE(rgb.ok()) << rgb.status();
  const cv::Mat view = RgbMatView(*rgb);
  const cv::Vec3b cyan = view.at<cv::Vec3b>(15, 5), yellow = view.at<cv::Vec3b>(15, 35);
  EXPECT_LT(cyan[0], 60);  // Cyan: no red, full green and blue.
  EXPECT_GT(cyan[2], 200);
  EXPECT_GT(yellow[0], 200);  // Yellow: red and green, no blue.
  EXPECT_LT(yellow[2], 60);
}

TEST(DecodeTest, JpegFrameLargerThanPixelLimitIsRejectedBeforeDecoding) {
  const std::string jpeg = Encode(".jpg", Picture());
  auto s = DecodeJpegToRgb(jpeg, 40 * 30 - 1);
  EXPECT_EQ(s.status().message(), "image: JPEG frame 40x30 exceeds limits.max_image_pixels = 1199");
}

TEST(DecodeTest, TruncatedAndCorruptFilesAreInvalidArgument) {
  for (const std::string ext : {".jpg", ".png", ".webp", ".bmp", ".tiff"}) {
    const std::string bytes = Encode(ext, Picture());
    auto truncated = DecodeImage(Encoded(bytes.substr(0, bytes.size() / 2)), {});
    EXPECT_EQ(truncated.status().code(), absl::StatusCode::kInvalidArgument) << ext;
    std::string corrupt = bytes.substr(0, 16) + std::string(200, '\x5a');
    EXPECT_EQ(DecodeImage(Encoded(corrupt), {}).status().code(), absl::StatusCode::kInvalidArgument)
        << ext;
  }
  EXPECT_EQ(DecodeImage(Encoded("not an image"), {}).status().message(),
            "image: unrecognised format (expected JPEG, PNG, WebP, BMP or TIFF)");
  EXPECT_EQ(DecodeImage(Encoded(""), {}).status().message(), "image: empty image bytes");
}

TEST(DecodeTest, DecompressionBombRejectedFromHeaderAlone) {
  // A PNG header claiming 100000 x 100000 pixels and no data at all.
  std::string png = Encode(".png", Picture()).substr(0, 33);
  auto put32 = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) png[at + i] = static_cast<char>(v >> (24 - 8 * i));
  };
  put32(16, 100000);
  put32(20, 100000);
  absl::Status s = CheckImageLimits(Encoded(png), {uint64_t{4096} * 4096, 200000});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "image: 100000x100000 = 10000000000 pixels exceed limits.max_image_pixels = 16777216");
  s = CheckImageLimits(Encoded(png), {});
  EXPECT_EQ(s.message(), "image: 100000x100000 exceeds limits.max_image_side = 16384");
}

TEST(DecodeTest, RawRgb8) {
  v1::Image image;
  image.mutable_raw_rgb8()->set_width(2);
  image.mutable_raw_rgb8()->set_height(1);
  image.mutable_raw_rgb8()->set_pixels(std::string("\x01\x02\x03\x04\x05\x06", 6));
  auto rgb = DecodeImage(image, {});
  ASSERT_TRUE(rgb.ok());
  EXPECT_EQ(RgbMatView(*rgb).at<cv::Vec3b>(0, 1), cv::Vec3b(4, 5, 6));
  image.mutable_raw_rgb8()->set_pixels("short");
  EXPECT_EQ(DecodeImage(image, {}).status().message(),
            "image.raw_rgb8.pixels: 5 bytes, expected 6 (width * height * 3)");
  EXPECT_EQ(DecodeImage(v1::Image(), {}).status().message(),
            "image: neither encoded nor raw_rgb8 is set");
}

TEST(ShapeBucketTest, ChoosesClosestAspectAndResizes) {
  const std::vector<ShapeBucket> buckets = {{640, 640}, {896, 640}, {640, 896}};
  EXPECT_EQ(ChooseBucket(1920, 1080, buckets).name(), "896x640");
  EXPECT_EQ(ChooseBucket(480, 640, buckets).name(), "640x896");
  EXPECT_EQ(ChooseBucket(500, 510, buckets).name(), "640x640");
  ImageRgb8 picture{40, 30, PixelBuffer(40 * 30 * 3, 7)};
  const ImageRgb8 out = ResizeToBucket(picture, buckets[1]);
  EXPECT_EQ(out.width, 896);
  EXPECT_EQ(out.pixels.size(), 896u * 640 * 3);
  EXPECT_EQ(out.pixels[12345], 7);
  // Its aspect kept (40:30 = 853:640 in a 896 x 640 bucket): scaled into the top-left
  // corner, padded on the right.
  EXPECT_EQ(PlaceInBucket(40, 30, buckets[1]).width, 853);
  EXPECT_EQ(PlaceInBucket(40, 30, buckets[1]).height, 640);
  auto at = [&out](int x, int y) { return out.pixels[(static_cast<size_t>(y) * 896 + x) * 3]; };
  EXPECT_EQ(at(852, 639), 7);
  EXPECT_EQ(at(853, 0), kBucketPadding);
  EXPECT_EQ(at(895, 639), kBucketPadding);
  // Shrunk as well as enlarged, each side at least a pixel.
  EXPECT_EQ(PlaceInBucket(4000, 1000, buckets[0]).width, 640);
  EXPECT_EQ(PlaceInBucket(4000, 1000, buckets[0]).height, 160);
  EXPECT_EQ(PlaceInBucket(10000, 1, buckets[0]).height, 1);
  // Already at the bucket size: moved through, the buffer is not copied.
  ImageRgb8 exact{640, 640, PixelBuffer(640 * 640 * 3, 1)};
  const uint8_t* buffer = exact.pixels.data();
  EXPECT_EQ(ResizeToBucket(std::move(exact), buckets[0]).pixels.data(), buffer);
}

}  // namespace
}  // namespace ovseg

namespace ovseg {
namespace {

TEST(ImageHeaderTest, AnimatedWebpIsNamedAsSuch) {
  // RIFF / WEBP / VP8X with the animation flag, a 2 x 3 canvas.
  std::string webp("RIFF\x1a\0\0\0WEBPVP8X\x0a\0\0\0\x02\0\0\0\x01\0\0\x02\0\0", 30);
  absl::StatusOr<ImageHeader> h = ProbeImageHeader(webp);
  EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(h.status().message(), "image: animated WebP is not supported; send a single frame");
  webp[20] = 0x10;  // alpha only: a still image
  h = ProbeImageHeader(webp);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->width, 2u);
  EXPECT_EQ(h->height, 3u);
}

}  // namespace
}  // namespace ovseg
