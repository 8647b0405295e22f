// libFuzzer target: image header probing (server/image/image_header.h) reads untrusted
// bytes before any size limit applies, so any input must give a header or an error.
#include <cstddef>
#include <cstdint>

#include "server/image/image_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)ovseg::ProbeImageHeader(absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
