// Region files for `ovseg segment --regions`: PNGs as they are, COCO RLE JSON in its three
// shapes, uncompressed counts compressed, and errors that name the file and element.
#include "client/region_files.h"

#include <gtest/gtest.h>

#include <fstream>

#include "common/coco_rle.h"

namespace ovseg {
namespace {

TEST(RegionFilesTest, ParsesEveryCocoRleShape) {
  // 2x3 mask, column-major runs: 1 zero, 2 ones, 3 zeros.
  const std::string compressed = RleCountsToString({1, 2, 3});
  auto one = ParseRleRegions(R"({"size": [2, 3], "counts": ")" + compressed + R"("})", "a.json");
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].rle().height(), 2u);
  EXPECT_EQ((*one)[0].rle().width(), 3u);
  EXPECT_EQ((*one)[0].rle().counts(), compressed);
  auto list = ParseRleRegions(R"([{"segmentation": {"size": [2, 3], "counts": [1, 2, 3]}},
                                  {"size": [2, 3], "counts": ")" +
                                  compressed + R"("}])",
                              "b.json");
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].rle().counts(), compressed);  // Uncompressed counts compressed.
}

TEST(RegionFilesTest, ErrorsNameTheFileAndElement) {
  EXPECT_EQ(ParseRleRegions("{", "x.json").status().message(), "x.json: not JSON");
  EXPECT_NE(
      std::string(ParseRleRegions(R"([{"size": [2, 3], "counts": "1"}, {"size": [2]}])", "y.json")
                      .status()
                      .message())
          .find("y.json[1]"),
      std::string::npos);
  EXPECT_NE(
      std::string(
          ParseRleRegions(R"({"size": [2, 3], "counts": [1, -2]})", "z.json").status().message())
          .find("non-negative integers"),
      std::string::npos);
  EXPECT_EQ(ReadRegionFiles({"/nonexistent/r.png"}).status().code(), absl::StatusCode::kNotFound);
  const std::string txt = ::testing::TempDir() + "/region.txt";
  std::ofstream(txt) << "x";
  EXPECT_NE(std::string(ReadRegionFiles({txt}).status().message()).find("expected a .png"),
            std::string::npos);
}

TEST(RegionFilesTest, PngFilesAreSentAsTheyAre) {
  const std::string png = ::testing::TempDir() + "/region.PNG";
  std::ofstream(png, std::ios::binary) << std::string("\x89PNG fake bytes", 15);
  auto regions = ReadRegionFiles({png});
  ASSERT_TRUE(regions.ok()) << regions.status();
  ASSERT_EQ(regions->size(), 1u);
  EXPECT_EQ((*regions)[0].png(), std::string("\x89PNG fake bytes", 15));
}

}  // namespace
}  // namespace ovseg
