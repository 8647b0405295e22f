#include "client/region_files.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/coco_rle.h"

namespace ovseg {
namespace {

absl::StatusOr<v1::Region> RegionFromRle(const nlohmann::json& j, const std::string& where) {
  const nlohmann::json* rle = &j;
  if (j.is_object() && j.contains("segmentation")) rle = &j["segmentation"];
  if (!rle->is_object() || !rle->contains("size") || !rle->contains("counts")) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": expected a COCO RLE {\"size\": [h, w], \"counts\": ...}"));
  }
  const nlohmann::json& size = (*rle)["size"];
  if (!size.is_array() || size.size() != 2 || !size[0].is_number_unsigned() ||
      !size[1].is_number_unsigned()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": \"size\" must be [height, width]"));
  }
  v1::Region region;
  v1::CocoRle* out = region.mutable_rle();
  out->set_height(size[0].get<uint32_t>());
  out->set_width(size[1].get<uint32_t>());
  const nlohmann::json& counts = (*rle)["counts"];
  if (counts.is_string()) {
    out->set_counts(counts.get<std::string>());
  } else if (counts.is_array()) {
    std::vector<uint32_t> runs;
    for (const nlohmann::json& c : counts) {
      if (!c.is_number_unsigned()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": uncompressed \"counts\" must be non-negative integers"));
      }
      runs.push_back(c.get<uint32_t>());
    }
    out->set_counts(RleCountsToString(runs));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": \"counts\" must be a string or an integer array"));
  }
  return region;
}

}  // namespace

absl::StatusOr<std::vector<v1::Region>> ParseRleRegions(const std::string& text,
                                                        const std::string& source) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(source, ": not JSON"));
  std::vector<v1::Region> regions;
  if (!j.is_array()) {
    absl::StatusOr<v1::Region> r = RegionFromRle(j, source);
    if (!r.ok()) return r.status();
    regions.push_back(*std::move(r));
    return regions;
  }
  for (size_t i = 0; i < j.size(); ++i) {
    absl::StatusOr<v1::Region> r = RegionFromRle(j[i], absl::StrCat(source, "[", i, "]"));
    if (!r.ok()) return r.status();
    regions.push_back(*std::move(r));
  }
  return regions;
}

absl::StatusOr<std::vector<v1::Region>> ReadRegionFiles(const std::vector<std::string>& paths) {
  std::vector<v1::Region> regions;
  for (const std::string& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot read region file ", path));
    std::stringstream bytes;
    bytes << in.rdbuf();
    const std::string lower = absl::AsciiStrToLower(path);
    if (absl::EndsWith(lower, ".png")) {
      regions.emplace_back().set_png(bytes.str());
    } else if (absl::EndsWith(lower, ".json")) {
      absl::StatusOr<std::vector<v1::Region>> parsed = ParseRleRegions(bytes.str(), path);
      if (!parsed.ok()) return parsed.status();
      for (v1::Region& r : *parsed) regions.push_back(std::move(r));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("region file ", path, ": expected a .png mask or a .json COCO RLE file"));
    }
  }
  return regions;
}

}  // namespace ovseg
