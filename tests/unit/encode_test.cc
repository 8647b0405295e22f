#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "common/coco_rle.h"
#include "server/encode/mask_codecs.h"
#include "server/encode/response_builder.h"

namespace ovseg {
namespace {

std::string SourceDir() {
  const char* dir = std::getenv("OVSEG_SOURCE_DIR");
  return dir ? dir : ".";
}

TEST(CocoRleTest, MatchesPycocotoolsVectors) {
  std::ifstream in(SourceDir() + "/tests/data/coco_rle_vectors.json");
  ASSERT_TRUE(in) << "run from the build tree via ctest (OVSEG_SOURCE_DIR)";
  const nlohmann::json doc = nlohmann::json::parse(in);
  ASSERT_GE(doc["vectors"].size(), 8u);
  for (const auto& v : doc["vectors"]) {
    const int h = v["height"], w = v["width"];
    std::vector<uint8_t> mask;
    for (const auto& row : v["rows"]) {
      for (char c : row.get<std::string>()) mask.push_back(c == '1');
    }
    const CocoRleMask rle = EncodeRle(mask.data(), h, w);
    EXPECT_EQ(RleCountsToString(rle.counts), v["counts"].get<std::string>()) << v["name"];
    // And back: string -> counts -> mask.
    auto counts = RleCountsFromString(v["counts"]);
    ASSERT_TRUE(counts.ok()) << v["name"];
    EXPECT_EQ(*counts, rle.counts) << v["name"];
    auto decoded = DecodeRle({h, w, *counts});
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, mask) << v["name"];
  }
}

TEST(CocoRleTest, RejectsInconsistentCounts) {
  EXPECT_FALSE(DecodeRle({2, 2, {1, 1}}).ok());
  EXPECT_FALSE(RleCountsFromString("\x7f").ok());
}

TEST(MaskCodecsTest, PngRoundTripsAndLabelMapWidth) {
  cv::Mat mask = cv::Mat::zeros(5, 7, CV_8UC1);
  mask(cv::Rect(1, 1, 3, 2)).setTo(1);
  auto png = DecodeGrayPng(EncodeMaskPng(mask));
  ASSERT_TRUE(png.ok());
  EXPECT_EQ(cv::countNonZero(*png), 6);
  EXPECT_EQ(png->at<uint8_t>(1, 1), 255);

  cv::Mat labels(2, 2, CV_32SC1, cv::Scalar(-1));
  labels.at<int32_t>(0, 0) = 300;
  auto wide = DecodeGrayPng(EncodeLabelMapPng(labels, 847));
  ASSERT_TRUE(wide.ok());
  EXPECT_EQ(wide->type(), CV_16UC1);
  EXPECT_EQ(wide->at<uint16_t>(0, 0), 300);
  EXPECT_EQ(wide->at<uint16_t>(1, 1), 65535);
  labels.at<int32_t>(0, 0) = 3;
  auto narrow = DecodeGrayPng(EncodeLabelMapPng(labels, 150));
  EXPECT_EQ(narrow->type(), CV_8UC1);
  EXPECT_EQ(narrow->at<uint8_t>(1, 1), 255);
}

TEST(MaskCodecsTest, PolygonsOfARectangle) {
  cv::Mat mask = cv::Mat::zeros(10, 10, CV_8UC1);
  mask(cv::Rect(2, 3, 4, 5)).setTo(1);
  auto polys = MaskToPolygons(mask);
  ASSERT_EQ(polys.size(), 1u);
  EXPECT_EQ(polys[0], (std::vector<float>{2, 3, 2, 7, 5, 7, 5, 3}));
}

TEST(ResponseBuilderTest, MasksComeBackAtOriginalResolution) {
  // A 4x2 segment-id map (left half label 0, right half label 1) for a 40x20 image.
  PipelineResult result;
  result.width = 4;
  result.height = 2;
  result.segment_id_map = {1, 1, 2, 2, 1, 1, 2, 2};
  result.segments = {{0, 0.6f, true, {}}, {1, 0.9f, false, {}}};
  ResponseOptions o;
  o.image_width = 40;
  o.image_height = 20;
  o.semantic_map = true;
  o.label_names = {"cat", "grass"};
  v1::SegmentResponse response;
  ASSERT_TRUE(BuildResponse(result, o, &response).ok());
  ASSERT_EQ(response.segments_size(), 2);
  EXPECT_EQ(response.segments(0).label(), "grass");  // Highest score first.
  EXPECT_EQ(response.segments(0).id(), 1u);
  EXPECT_EQ(response.segments(0).area(), 400u);
  EXPECT_EQ(response.segments(0).bbox().x(), 20u);
  EXPECT_EQ(response.segments(0).rle().width(), 40u);
  auto counts = RleCountsFromString(response.segments(0).rle().counts());
  auto mask = DecodeRle({20, 40, *counts});
  EXPECT_EQ((*mask)[39], 1);
  EXPECT_EQ((*mask)[0], 0);
  auto map = DecodeGrayPng(response.semantic_map_png());
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(map->size(), cv::Size(40, 20));
  EXPECT_EQ(map->at<uint8_t>(10, 5), 0);
  EXPECT_EQ(map->at<uint8_t>(10, 35), 1);
}

TEST(ResponseBuilderTest, ThresholdMaxSegmentsAndBadPipelineOutput) {
  PipelineResult result;
  result.width = 2;
  result.height = 1;
  result.segments = {
      {0, 0.2f, true, {255, 0}}, {1, 0.8f, true, {0, 255}}, {1, 0.7f, true, {255, 255}}};
  ResponseOptions o;
  o.image_width = 2;
  o.image_height = 1;
  o.score_threshold = 0.5f;
  o.max_segments = 1;
  o.mask_format = v1::NO_MASK;
  o.label_names = {"a", "b"};
  v1::SegmentResponse response;
  ASSERT_TRUE(BuildResponse(result, o, &response).ok());
  ASSERT_EQ(response.segments_size(), 1);
  EXPECT_FLOAT_EQ(response.segments(0).score(), 0.8f);
  result.segments[0].label_index = 5;
  EXPECT_EQ(BuildResponse(result, o, &response).code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace ovseg
