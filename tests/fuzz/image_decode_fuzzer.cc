// libFuzzer target: the full image decode path (header check, the JPEG fast path, OpenCV
// for the other formats, EXIF orientation) under small limits, so a fuzzed header cannot
// make the fuzzer itself allocate gigabytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/image/image_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ovseg::v1::Image image;
  image.set_encoded(std::string(reinterpret_cast<const char*>(data), size));
  (void)ovseg::DecodeImage(image, ovseg::ImageLimits{uint64_t{1} << 20, 4096});
  return 0;
}
