// Client-supplied regions ("classify these regions") to binary masks at the bucket
// resolution. Each region must match the decoded image's size; errors name the region.
#ifndef OVSEG_SERVER_IMAGE_REGION_DECODER_H_
#define OVSEG_SERVER_IMAGE_REGION_DECODER_H_

#include "absl/status/statusor.h"
#include "google/protobuf/repeated_field.h"
#include "model/api/segmentation_pipeline.h"
#include "ovseg/v1/segmentation.pb.h"

namespace ovseg {

// Decodes COCO RLE or PNG regions of an image_width x image_height image and resizes them
// (nearest neighbour) to bucket_width x bucket_height.
absl::StatusOr<RegionMasks> DecodeRegions(
    const google::protobuf::RepeatedPtrField<v1::Region>& regions, int image_width,
    int image_height, int bucket_width, int bucket_height);

}  // namespace ovseg

#endif  // OVSEG_SERVER_IMAGE_REGION_DECODER_H_
