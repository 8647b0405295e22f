// libFuzzer target: COCO RLE from clients (regions): the counts string decoder and the
// mask decoder for a size taken from the first two bytes; what decodes must re-encode to
// the same counts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/coco_rle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const int height = 1 + data[0] % 64, width = 1 + data[1] % 64;
  const std::string text(reinterpret_cast<const char*>(data + 2), size - 2);
  absl::StatusOr<std::vector<uint32_t>> counts = ovseg::RleCountsFromString(text);
  if (!counts.ok()) return 0;
  absl::StatusOr<std::vector<uint8_t>> mask = ovseg::DecodeRle({height, width, *counts});
  if (!mask.ok()) return 0;
  const ovseg::CocoRleMask again = ovseg::EncodeRle(mask->data(), height, width);
  absl::StatusOr<std::vector<uint8_t>> round = ovseg::DecodeRle(again);
  if (!round.ok() || *round != *mask) std::abort();  // the codec disagrees with itself
  return 0;
}
