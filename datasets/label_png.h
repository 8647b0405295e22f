// Semantic label maps as single-channel PNGs, 8 or 16 bit: one class index per pixel, an
// ignore value (255 for 8-bit, 65535 for 16-bit by convention) where nothing is labelled.
#ifndef OVSEG_DATASETS_LABEL_PNG_H_
#define OVSEG_DATASETS_LABEL_PNG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ovseg {

struct LabelMap {
  int width = 0, height = 0;
  int bits = 8;  // 8 or 16, as stored
  std::vector<int32_t> labels;
};

// The default ignore value of a map with this many bits.
inline int DefaultIgnoreLabel(int bits) { return bits == 16 ? 65535 : 255; }

absl::StatusOr<LabelMap> ReadLabelPng(const std::string& path);

// `ignore` as given, or (when negative: "by the maps") the default of the bit depth of
// the map at `sample_path`.
absl::StatusOr<int> ResolveIgnoreLabel(int ignore, const std::string& sample_path);
// 16-bit when any label exceeds 255.
absl::Status WriteLabelPng(const std::string& path, const LabelMap& map);

}  // namespace ovseg

#endif  // OVSEG_DATASETS_LABEL_PNG_H_
