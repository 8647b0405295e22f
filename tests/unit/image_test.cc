#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "server/image/image_decoder.h"
#include "server/image/image_header.h"
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
  auto rgb = DecodeImage(Encoded(bytes), {});
  ASSERT_TRUE(rgb.ok()) << rgb.status();
  ASSERT_EQ(rgb->type(), CV_8UC3);
  EXPECT_EQ(rgb->cols, 40);
  // RGB order: left is red, right is blue (lossy formats within a tolerance).
  const cv::Vec3b left = rgb->at<cv::Vec3b>(15, 5), right = rgb->at<cv::Vec3b>(15, 35);
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
    EXPECT_EQ(rgb->type(), CV_8UC3);
    EXPECT_EQ(rgb->size(), cv::Size(40, 30));
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
  EXPECT_EQ(rgb->size(), cv::Size(30, 40));  // Rotated.
  // Red (left) becomes the top after a clockwise rotation.
  EXPECT_GT(rgb->at<cv::Vec3b>(5, 15)[0], 200);
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
  EXPECT_EQ(rgb->at<cv::Vec3b>(0, 1), cv::Vec3b(4, 5, 6));
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
  const ImageRgb8 out = ResizeToBucket(Picture(), buckets[1]);
  EXPECT_EQ(out.width, 896);
  EXPECT_EQ(out.pixels.size(), 896u * 640 * 3);
}

}  // namespace
}  // namespace ovseg
