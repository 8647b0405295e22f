#include "server/image/shape_bucket.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "absl/strings/str_cat.h"
#include "server/image/image_decoder.h"

namespace ovseg {

std::string ShapeBucket::name() const { return absl::StrCat(width, "x", height); }

const ShapeBucket& ChooseBucket(int width, int height, const std::vector<ShapeBucket>& buckets) {
  const double aspect = std::log(static_cast<double>(width) / height);
  const ShapeBucket* best = &buckets.front();
  double best_distance = 1e300;
  for (const ShapeBucket& b : buckets) {
    const double d = std::abs(std::log(static_cast<double>(b.width) / b.height) - aspect);
    const bool larger = int64_t{b.width} * b.height > int64_t{best->width} * best->height;
    if (d < best_distance - 1e-12 || (std::abs(d - best_distance) <= 1e-12 && larger)) {
      best = &b;
      best_distance = d;
    }
  }
  return *best;
}

BucketPlacement PlaceInBucket(int width, int height, const ShapeBucket& bucket) {
  const double scale = std::min(static_cast<double>(bucket.width) / width,
                                static_cast<double>(bucket.height) / height);
  const auto side = [scale](int n, int limit) {
    return std::clamp(static_cast<int>(std::lround(n * scale)), 1, limit);
  };
  return {side(width, bucket.width), side(height, bucket.height)};
}

ImageRgb8 ResizeToBucket(ImageRgb8 image, const ShapeBucket& bucket) {
  if (image.width == bucket.width && image.height == bucket.height) return image;
  const BucketPlacement placed = PlaceInBucket(image.width, image.height, bucket);
  const cv::Mat rgb = RgbMatView(image);
  ImageRgb8 out;
  out.width = bucket.width;
  out.height = bucket.height;
  out.pixels.assign(static_cast<size_t>(bucket.width) * bucket.height * 3, kBucketPadding);
  cv::Mat dst(bucket.height, bucket.width, CV_8UC3, out.pixels.data());
  cv::Mat corner = dst(cv::Rect(0, 0, placed.width, placed.height));
  const bool shrinking = rgb.cols > placed.width || rgb.rows > placed.height;
  // Into the corner view itself: cv::resize writes through it only when the size and
  // type already match, which they do.
  cv::resize(rgb, corner, corner.size(), 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

}  // namespace ovseg
