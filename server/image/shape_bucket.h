// Shape buckets: the fixed model input sizes requests are resized to, so that a batch is
// one dense tensor. An image keeps its aspect ratio: it is scaled to fit the bucket and
// placed in its top-left corner, the rest padded, as detectron2 feeds Mask2Former and as
// the training crops are padded (datasets/augmentation.h). Stretching it instead changed
// every shape the model was trained on: a ring became an ellipse, and the demo model named
// 59% of ground-truth things from their served crops against 82% from the same crops cut
// at the image's own aspect (docs/results.md, "Shapes kept"). The model's results are cut
// to the image's corner, then mapped back to the original resolution.
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

// The size a width x height image takes in `bucket`: scaled by the largest factor that
// fits both sides (up or down), each side at least 1 pixel.
struct BucketPlacement {
  int width = 0;
  int height = 0;
};
BucketPlacement PlaceInBucket(int width, int height, const ShapeBucket& bucket);

// The padding's value in each channel, as the training crops are padded.
inline constexpr uint8_t kBucketPadding = 128;

// The image at the bucket size: scaled to PlaceInBucket's size (area averaging when
// shrinking, bilinear otherwise) in the top-left corner, kBucketPadding elsewhere. An
// image already at the bucket size is moved through untouched.
ImageRgb8 ResizeToBucket(ImageRgb8 image, const ShapeBucket& bucket);

}  // namespace ovseg

#endif  // OVSEG_SERVER_IMAGE_SHAPE_BUCKET_H_
