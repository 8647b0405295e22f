// Client regions (server/image/region_decoder.h): PNG and COCO RLE to bucket masks, and
// PNG headers checked before any pixel is decoded.
#include "server/image/region_decoder.h"

#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include "common/coco_rle.h"

namespace ovseg {
namespace {

std::string Png(const cv::Mat& m) {
  std::vector<uint8_t> bytes;
  EXPECT_TRUE(cv::imencode(".png", m, bytes));
  return std::string(bytes.begin(), bytes.end());
}

TEST(RegionDecoderTest, PngAndRleRegionsBecomeBucketMasks) {
  cv::Mat left(4, 8, CV_8UC1, cv::Scalar(0));
  left(cv::Rect(0, 0, 4, 4)).setTo(255);
  google::protobuf::RepeatedPtrField<v1::Region> regions;
  regions.Add()->set_png(Png(left));
  // The right half as COCO RLE (column-major runs: 16 zeros, then 16 ones).
  v1::CocoRle* rle = regions.Add()->mutable_rle();
  rle->set_width(8);
  rle->set_height(4);
  rle->set_counts(RleCountsToString({16, 16}));
  absl::StatusOr<RegionMasks> masks = DecodeRegions(regions, 8, 4, ShapeBucket{16, 8});
  ASSERT_TRUE(masks.ok()) << masks.status();
  ASSERT_EQ(masks->count, 2);
  EXPECT_EQ(masks->data[0 * 128 + 3 * 16 + 2], 1);  // left half of the first
  EXPECT_EQ(masks->data[0 * 128 + 3 * 16 + 12], 0);
  EXPECT_EQ(masks->data[1 * 128 + 3 * 16 + 2], 0);  // right half of the second
  EXPECT_EQ(masks->data[1 * 128 + 3 * 16 + 12], 1);
}

TEST(RegionDecoderTest, RegionsArePlacedAsTheImageIsWithTheirAspectKept) {
  // An 8 x 4 image fills the top 16 x 8 of a square 16 x 16 bucket; below is padding,
  // inside no region (stretched, the left half would have become a tall rectangle).
  cv::Mat left(4, 8, CV_8UC1, cv::Scalar(0));
  left(cv::Rect(0, 0, 4, 4)).setTo(255);
  google::protobuf::RepeatedPtrField<v1::Region> regions;
  regions.Add()->set_png(Png(left));
  absl::StatusOr<RegionMasks> masks = DecodeRegions(regions, 8, 4, ShapeBucket{16, 16});
  ASSERT_TRUE(masks.ok()) << masks.status();
  EXPECT_EQ(masks->width, 16);
  EXPECT_EQ(masks->height, 16);
  int inside = 0;
  for (int y = 0; y < 16; ++y) {
    for (int x = 0; x < 16; ++x) {
      const bool expected = y < 8 && x < 8;
      EXPECT_EQ(masks->data[y * 16 + x], expected ? 1 : 0) << x << "," << y;
      inside += masks->data[y * 16 + x];
    }
  }
  EXPECT_EQ(inside, 64);
}

TEST(RegionDecoderTest, PngSizeIsCheckedFromTheHeaderBeforeDecoding) {
  // A 33-byte PNG claiming 16384 x 16384: without the header check OpenCV would try to
  // decode it (F2 of the hardening issue: ~8 GB for an ~8 MB upload); the answer names
  // the size, which only the header can have told.
  std::string png = Png(cv::Mat(4, 8, CV_8UC1, cv::Scalar(1))).substr(0, 33);
  for (size_t at : {16, 20}) {
    png[at] = 0;
    png[at + 1] = 0;
    png[at + 2] = 0x40;
    png[at + 3] = 0;
  }
  google::protobuf::RepeatedPtrField<v1::Region> regions;
  regions.Add()->set_png(png);
  absl::Status s = DecodeRegions(regions, 8, 4, ShapeBucket{16, 8}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "regions[0].png: 16384x16384 does not match the 8x4 image");
  // Not a PNG at all (a JPEG, or garbage).
  std::vector<uint8_t> jpeg;
  ASSERT_TRUE(cv::imencode(".jpg", cv::Mat(4, 8, CV_8UC3, cv::Scalar(9, 9, 9)), jpeg));
  regions.Mutable(0)->set_png(std::string(jpeg.begin(), jpeg.end()));
  EXPECT_EQ(DecodeRegions(regions, 8, 4, ShapeBucket{16, 8}).status().message(),
            "regions[0].png: not a decodable PNG");
  regions.Mutable(0)->set_png("\x89PNG\r\n\x1a\n garbage");
  EXPECT_EQ(DecodeRegions(regions, 8, 4, ShapeBucket{16, 8}).status().message(),
            "regions[0].png: not a decodable PNG");
}

}  // namespace
}  // namespace ovseg
