#include "server/image/region_decoder.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "absl/strings/str_cat.h"
#include "common/coco_rle.h"
#include "server/image/image_header.h"

namespace ovseg {
namespace {

// Column-major RLE bytes -> row-major 0/1 matrix of the region.
absl::StatusOr<cv::Mat> RegionMatrix(const v1::Region& region, int index, int width, int height) {
  const std::string name = absl::StrCat("regions[", index, "]");
  switch (region.mask_case()) {
    case v1::Region::kRle: {
      const v1::CocoRle& rle = region.rle();
      if (static_cast<int>(rle.width()) != width || static_cast<int>(rle.height()) != height) {
        return absl::InvalidArgumentError(absl::StrCat(name, ".rle: ", rle.width(), "x",
                                                       rle.height(), " does not match the ", width,
                                                       "x", height, " image"));
      }
      absl::StatusOr<std::vector<uint32_t>> counts = RleCountsFromString(rle.counts());
      if (!counts.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(name, ".rle: ", counts.status().message()));
      }
      absl::StatusOr<std::vector<uint8_t>> bytes = DecodeRle({height, width, *counts});
      if (!bytes.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(name, ".rle: ", bytes.status().message()));
      }
      return cv::Mat(height, width, CV_8UC1, bytes->data()).clone();  // Row-major 0/1.
    }
    case v1::Region::kPng: {
      const std::string& png = region.png();
      // The header first: a small file may claim a huge image, and OpenCV would
      // allocate it all before any size check could run.
      absl::StatusOr<ImageHeader> header = ProbeImageHeader(png);
      if (!header.ok() || header->format != ImageFormat::kPng) {
        return absl::InvalidArgumentError(absl::StrCat(name, ".png: not a decodable PNG"));
      }
      if (header->width != static_cast<uint32_t>(width) ||
          header->height != static_cast<uint32_t>(height)) {
        return absl::InvalidArgumentError(absl::StrCat(name, ".png: ", header->width, "x",
                                                       header->height, " does not match the ",
                                                       width, "x", height, " image"));
      }
      cv::Mat decoded;
      try {
        decoded = cv::imdecode(
            cv::Mat(1, static_cast<int>(png.size()), CV_8UC1, const_cast<char*>(png.data())),
            cv::IMREAD_UNCHANGED);
      } catch (const std::exception& e) {
        decoded = cv::Mat();
      }
      if (decoded.empty() || png.substr(0, 8) != "\x89PNG\r\n\x1a\n") {
        return absl::InvalidArgumentError(absl::StrCat(name, ".png: not a decodable PNG"));
      }
      if (decoded.cols != width || decoded.rows != height) {
        return absl::InvalidArgumentError(absl::StrCat(name, ".png: ", decoded.cols, "x",
                                                       decoded.rows, " does not match the ", width,
                                                       "x", height, " image"));
      }
      cv::Mat first;
      cv::extractChannel(decoded, first, 0);
      return first != 0;
    }
    case v1::Region::MASK_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat(name, ": neither rle nor png is set"));
}

}  // namespace

absl::StatusOr<RegionMasks> DecodeRegions(
    const google::protobuf::RepeatedPtrField<v1::Region>& regions, int image_width,
    int image_height, const ShapeBucket& bucket) {
  const BucketPlacement placed = PlaceInBucket(image_width, image_height, bucket);
  RegionMasks out;
  out.count = regions.size();
  out.width = bucket.width;
  out.height = bucket.height;
  const size_t plane = static_cast<size_t>(bucket.width) * bucket.height;
  out.data.assign(plane * regions.size(), 0);
  for (int i = 0; i < regions.size(); ++i) {
    absl::StatusOr<cv::Mat> m = RegionMatrix(regions[i], i, image_width, image_height);
    if (!m.ok()) return m.status();
    cv::Mat binary = *m != 0;  // 0 / 255
    cv::Mat corner = cv::Mat(bucket.height, bucket.width, CV_8UC1, out.data.data() + plane * i)(
        cv::Rect(0, 0, placed.width, placed.height));
    cv::resize(binary, corner, corner.size(), 0, 0, cv::INTER_NEAREST);
    corner /= 255;
  }
  return out;
}

}  // namespace ovseg
