// Client-supplied regions ("classify these regions") to binary masks at the bucket
// resolution. Each region must match the decoded image's size; errors name the region.
#ifndef OVSEG_SERVER_IMAGE_REGION_DECODER_H_
#define OVSEG_SERVER_IMAGE_REGION_DECODER_H_

#include "absl/status/statusor.h"
#include "google/protobuf/repeated_field.h"
#include "model/api/segmentation_pipeline.h"
#include "ovseg/v1/segmentation.pb.h"
#include "server/image/shape_bucket.h"

namespace ovseg {

// Decodes COCO RLE or PNG regions of an image_width x image_height image and places them
// in `bucket` as ResizeToBucket places the image (nearest neighbour, the padding outside
// every region).
absl::StatusOr<RegionMasks> DecodeRegions(
    const google::protobuf::RepeatedPtrField<v1::Region>& regions, int image_width,
    int image_height, const ShapeBucket& bucket);

}  // namespace ovseg

#endif  // OVSEG_SERVER_IMAGE_REGION_DECODER_H_
