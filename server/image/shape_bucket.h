// Shape buckets: the fixed model input sizes requests are resized to, so that a batch is
// one dense tensor. Masks are mapped back to the original resolution after the model.
#ifndef OVSEG_SERVER_IMAGE_SHAPE_BUCKET_H_
#define OVSEG_SERVER_IMAGE_SHAPE_BUCKET_H_

#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "model/api/segmentation_pipeline.h"

namespace ovseg {

struct ShapeBucket {
  int width = 0;
  int height = 0;
  std::string name() const;  // "WIDTHxHEIGHT"
};

// The bucket whose aspect ratio is closest to width/height (in log space, so 2:1 and 1:2
// are equally far from 1:1); the larger bucket on ties. `buckets` must not be empty.
const ShapeBucket& ChooseBucket(int width, int height, const std::vector<ShapeBucket>& buckets);

// Resizes an RGB8 image to the bucket (area averaging when shrinking, bilinear otherwise).
// An image already at the bucket size is moved through untouched.
ImageRgb8 ResizeToBucket(ImageRgb8 image, const ShapeBucket& bucket);

}  // namespace ovseg

#endif  // OVSEG_SERVER_IMAGE_SHAPE_BUCKET_H_
