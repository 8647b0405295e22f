// libFuzzer target: client regions (server/image/region_decoder.h), PNG or COCO RLE as
// the first byte says, for a 24 x 16 image at a 32 x 32 bucket.
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/image/region_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  google::protobuf::RepeatedPtrField<ovseg::v1::Region> regions;
  const std::string payload(reinterpret_cast<const char*>(data + 1), size - 1);
  ovseg::v1::Region* region = regions.Add();
  if (data[0] & 1) {
    region->set_png(payload);
  } else {
    region->mutable_rle()->set_width(24);
    region->mutable_rle()->set_height(16);
    region->mutable_rle()->set_counts(payload);
  }
  (void)ovseg::DecodeRegions(regions, 24, 16, ovseg::ShapeBucket{32, 32});
  return 0;
}
