#include "model/safetensors/safetensors_header.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace ovseg {
namespace {

absl::Status Bad(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("safetensors: ", what));
}

absl::Status BadTensor(const std::string& name, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("safetensors: tensor \"", name, "\": ", what));
}

}  // namespace

int SafetensorsDtypeSize(absl::string_view dtype) {
  static const std::map<std::string, int, std::less<>> kSizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1},
      {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
      {"U32", 4},  {"F32", 4}, {"I64", 8}, {"U64", 8},     {"F64", 8}};
  auto it = kSizes.find(dtype);
  return it == kSizes.end() ? 0 : it->second;
}

absl::StatusOr<SafetensorsHeader> ParseSafetensorsHeader(absl::string_view prefix,
                                                         uint64_t file_size) {
  if (prefix.size() < 8 || file_size < 8) return Bad("file shorter than the 8-byte length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(prefix[i]);
  if (n > kMaxSafetensorsHeaderBytes) {
    return Bad(absl::StrCat("header length ", n, " exceeds ", kMaxSafetensorsHeaderBytes));
  }
  if (8 + n > file_size) {
    return Bad(
        absl::StrCat("header length ", n, " runs past the end of the ", file_size, "-byte file"));
  }
  if (prefix.size() < 8 + n) return Bad("header truncated");
  const nlohmann::json json =
      nlohmann::json::parse(prefix.substr(8, n), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return Bad("header is not valid JSON");
  if (!json.is_object()) return Bad("header is not a JSON object");
  SafetensorsHeader header;
  header.header_bytes = n;
  const uint64_t data_size = file_size - 8 - n;
  for (const auto& [name, value] : json.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) return Bad("__metadata__ is not an object");
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string()) return Bad(absl::StrCat("__metadata__ \"", k, "\" is not a string"));
        header.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    if (!value.is_object()) return BadTensor(name, "entry is not an object");
    SafetensorsTensor t;
    t.name = name;
    if (!value.contains("dtype") || !value["dtype"].is_string()) {
      return BadTensor(name, "missing dtype");
    }
    t.dtype = value["dtype"].get<std::string>();
    const int element = SafetensorsDtypeSize(t.dtype);
    if (element == 0) return BadTensor(name, absl::StrCat("unknown dtype \"", t.dtype, "\""));
    if (!value.contains("shape") || !value["shape"].is_array()) {
      return BadTensor(name, "missing shape");
    }
    uint64_t elements = 1;
    for (const auto& d : value["shape"]) {
      if (!d.is_number_unsigned()) return BadTensor(name, "shape entries must be integers >= 0");
      const uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && elements > (uint64_t{1} << 62) / dim)
        return BadTensor(name, "shape overflows");
      elements *= dim;
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    const auto& offsets = value.contains("data_offsets") ? value["data_offsets"] : nlohmann::json();
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned()) {
      return BadTensor(name, "data_offsets must be [begin, end]");
    }
    t.begin = offsets[0].get<uint64_t>();
    t.end = offsets[1].get<uint64_t>();
    if (t.begin > t.end || t.end > data_size) {
      return BadTensor(name, absl::StrCat("data_offsets [", t.begin, ", ", t.end, "] outside the ",
                                          data_size, "-byte data section"));
    }
    if (t.end - t.begin != elements * element) {
      return BadTensor(name, absl::StrCat("shape x ", t.dtype, " is ", elements * element,
                                          " bytes but data_offsets span ", t.end - t.begin));
    }
    header.tensors.push_back(std::move(t));
  }
  std::sort(header.tensors.begin(), header.tensors.end(),
            [](const auto& a, const auto& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < header.tensors.size(); ++i) {
    if (header.tensors[i].begin < header.tensors[i - 1].end) {
      return BadTensor(header.tensors[i].name,
                       absl::StrCat("overlaps \"", header.tensors[i - 1].name, "\""));
    }
  }
  return header;
}

absl::StatusOr<SafetensorsHeader> ReadSafetensorsHeader(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return absl::NotFoundError(absl::StrCat("safetensors: cannot open ", path));
  const uint64_t size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  std::string prefix(std::min<uint64_t>(size, 8), '\0');
  in.read(prefix.data(), static_cast<std::streamsize>(prefix.size()));
  if (size >= 8) {
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(prefix[i]);
    if (n <= kMaxSafetensorsHeaderBytes && 8 + n <= size) {
      prefix.resize(8 + n);
      in.read(prefix.data() + 8, static_cast<std::streamsize>(n));
    }
  }
  return ParseSafetensorsHeader(prefix, size);
}

}  // namespace ovseg
