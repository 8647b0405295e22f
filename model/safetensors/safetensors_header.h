// The safetensors header: 8-byte little-endian length N, N bytes of JSON mapping tensor
// names to {dtype, shape, data_offsets}, optional "__metadata__" (string -> string), then
// the raw data. This parser is LibTorch-free so that the server can validate uploads;
// model/ maps tensors on top of it. Every malformed input is an error naming the tensor
// and the problem, never a crash.
#ifndef OVSEG_MODEL_SAFETENSORS_SAFETENSORS_HEADER_H_
#define OVSEG_MODEL_SAFETENSORS_SAFETENSORS_HEADER_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ovseg {

struct SafetensorsTensor {
  std::string name;
  std::string dtype;  // "F32", "BF16", ...
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // Byte offsets into the data section.
  uint64_t end = 0;
};

struct SafetensorsHeader {
  uint64_t header_bytes = 0;               // N
  std::vector<SafetensorsTensor> tensors;  // Sorted by begin offset.
  std::map<std::string, std::string> metadata;
};

// Bytes per element of a safetensors dtype name; 0 when unknown.
int SafetensorsDtypeSize(absl::string_view dtype);

// Largest header accepted (the format's reference implementation uses 100 MB).
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

// `prefix` holds at least the first 8 + N bytes of a file of `file_size` bytes.
absl::StatusOr<SafetensorsHeader> ParseSafetensorsHeader(absl::string_view prefix,
                                                         uint64_t file_size);

// Reads and parses the header of the file at `path`.
absl::StatusOr<SafetensorsHeader> ReadSafetensorsHeader(const std::string& path);

}  // namespace ovseg

#endif  // OVSEG_MODEL_SAFETENSORS_SAFETENSORS_HEADER_H_
