#include "datasets/coco_panoptic.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace ovseg {
namespace {

using json = nlohmann::json;

absl::Status Problem(const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
}

// A required member of the right JSON type, or an error naming `where` and the key.
template <typename T>
absl::StatusOr<T> Field(const json& object, const char* key, const std::string& where) {
  const auto it = object.find(key);
  if (it == object.end())
    return absl::InvalidArgumentError(absl::StrCat(where, ": no \"", key, "\""));
  try {
    return it->template get<T>();
  } catch (const json::exception&) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".", key, ": unexpected value ", it->dump()));
  }
}

}  // namespace

std::vector<PanopticCategory> CocoPanoptic::PanopticCategories() const {
  std::vector<PanopticCategory> out;
  for (const CocoCategory& c : categories) out.push_back(c.category);
  return out;
}

absl::StatusOr<CocoPanoptic> ReadCocoPanopticJson(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  json root;
  try {
    root = json::parse(in);
  } catch (const json::exception& e) {
    return Problem(path, absl::StrCat("not JSON (", e.what(), ")"));
  }
  CocoPanoptic out;
  if (root.contains("categories")) {
    for (size_t i = 0; i < root["categories"].size(); ++i) {
      const json& c = root["categories"][i];
      const std::string where = absl::StrCat(path, ": categories[", i, "]");
      CocoCategory category;
      absl::StatusOr<int> id = Field<int>(c, "id", where);
      if (!id.ok()) return id.status();
      absl::StatusOr<std::string> name = Field<std::string>(c, "name", where);
      if (!name.ok()) return name.status();
      category.category.id = *id;
      category.category.name = *name;
      category.category.isthing = c.value("isthing", 0) == 1;
      if (c.contains("synonyms")) {
        absl::StatusOr<std::vector<std::string>> synonyms =
            Field<std::vector<std::string>>(c, "synonyms", where);
        if (!synonyms.ok()) return synonyms.status();
        category.synonyms = *synonyms;
      }
      if (c.contains("seen")) {
        if (!c["seen"].is_boolean() && !c["seen"].is_number_integer()) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, ": \"seen\" must be true/false or 1/0"));
        }
        category.seen = c["seen"].is_boolean() ? c["seen"].get<bool>() : c["seen"].get<int>() != 0;
      }
      out.categories.push_back(std::move(category));
    }
  }
  if (root.contains("images")) {
    for (size_t i = 0; i < root["images"].size(); ++i) {
      const json& m = root["images"][i];
      const std::string where = absl::StrCat(path, ": images[", i, "]");
      CocoImageInfo info;
      absl::StatusOr<int64_t> id = Field<int64_t>(m, "id", where);
      if (!id.ok()) return id.status();
      info.id = *id;
      info.file_name = m.value("file_name", "");
      info.width = m.value("width", 0);
      info.height = m.value("height", 0);
      out.images.push_back(std::move(info));
    }
  }
  if (!root.contains("annotations")) return Problem(path, "no \"annotations\"");
  for (size_t i = 0; i < root["annotations"].size(); ++i) {
    const json& a = root["annotations"][i];
    const std::string where = absl::StrCat(path, ": annotations[", i, "]");
    CocoPanopticAnnotation annotation;
    absl::StatusOr<int64_t> image_id = Field<int64_t>(a, "image_id", where);
    if (!image_id.ok()) return image_id.status();
    absl::StatusOr<std::string> file_name = Field<std::string>(a, "file_name", where);
    if (!file_name.ok()) return file_name.status();
    annotation.image_id = *image_id;
    annotation.file_name = *file_name;
    if (!a.contains("segments_info")) return Problem(where, "no \"segments_info\"");
    for (size_t k = 0; k < a["segments_info"].size(); ++k) {
      const json& s = a["segments_info"][k];
      const std::string at = absl::StrCat(where, ".segments_info[", k, "]");
      PanopticSegment segment;
      absl::StatusOr<int64_t> id = Field<int64_t>(s, "id", at);
      if (!id.ok()) return id.status();
      if (*id <= 0 || *id >= (int64_t{1} << 24)) {
        return Problem(at, absl::StrCat("id ", *id, " is outside 1..16777215"));
      }
      absl::StatusOr<int> category = Field<int>(s, "category_id", at);
      if (!category.ok()) return category.status();
      segment.id = static_cast<uint32_t>(*id);
      segment.category_id = *category;
      segment.iscrowd = s.value("iscrowd", 0) == 1;
      segment.area = s.value("area", int64_t{0});
      if (s.contains("bbox") && s["bbox"].size() == 4) {
        for (int j = 0; j < 4; ++j) segment.bbox[j] = s["bbox"][j].get<int>();
      }
      annotation.segments.push_back(segment);
    }
    out.annotations.push_back(std::move(annotation));
  }
  return out;
}

absl::Status WriteCocoPanopticJson(const std::string& path, const CocoPanoptic& dataset) {
  json root;
  root["categories"] = json::array();
  for (const CocoCategory& c : dataset.categories) {
    json category = {
        {"id", c.category.id}, {"name", c.category.name}, {"isthing", c.category.isthing ? 1 : 0}};
    if (!c.synonyms.empty()) category["synonyms"] = c.synonyms;
    if (c.seen.has_value()) category["seen"] = *c.seen;
    root["categories"].push_back(category);
  }
  root["images"] = json::array();
  for (const CocoImageInfo& m : dataset.images) {
    root["images"].push_back(
        {{"id", m.id}, {"file_name", m.file_name}, {"width", m.width}, {"height", m.height}});
  }
  root["annotations"] = json::array();
  for (const CocoPanopticAnnotation& a : dataset.annotations) {
    json segments = json::array();
    for (const PanopticSegment& s : a.segments) {
      segments.push_back({{"id", s.id},
                          {"category_id", s.category_id},
                          {"iscrowd", s.iscrowd ? 1 : 0},
                          {"area", s.area},
                          {"bbox", {s.bbox[0], s.bbox[1], s.bbox[2], s.bbox[3]}}});
    }
    root["annotations"].push_back(
        {{"image_id", a.image_id}, {"file_name", a.file_name}, {"segments_info", segments}});
  }
  // Written beside and renamed, so a reader never sees half a file.
  const std::string partial = path + ".partial";
  {
    std::ofstream out(partial);
    if (!out) return absl::PermissionDeniedError(absl::StrCat(path, ": cannot write"));
    out << root.dump();
    if (!out) return absl::DataLossError(absl::StrCat(path, ": write failed"));
  }
  std::error_code error;
  std::filesystem::rename(partial, path, error);
  if (error) return absl::DataLossError(absl::StrCat(path, ": ", error.message()));
  return absl::OkStatus();
}

absl::StatusOr<PanopticImage> ReadPanopticPng(const std::string& dir,
                                              const CocoPanopticAnnotation& annotation) {
  const std::string path = (std::filesystem::path(dir) / annotation.file_name).string();
  if (!std::filesystem::exists(path)) {
    return absl::NotFoundError(
        absl::StrCat(path, ": missing (image_id ", annotation.image_id, ")"));
  }
  const cv::Mat bgr = cv::imread(path, cv::IMREAD_UNCHANGED);
  if (bgr.empty()) return Problem(path, "not a readable PNG");
  if (bgr.depth() != CV_8U || (bgr.channels() != 3 && bgr.channels() != 4)) {
    return Problem(path, absl::StrCat("segment PNGs are 8-bit RGB; this one has ", bgr.channels(),
                                      " channel(s) of depth code ", bgr.depth()));
  }
  PanopticImage image;
  image.name = annotation.file_name;
  image.width = bgr.cols;
  image.height = bgr.rows;
  image.ids.resize(static_cast<size_t>(bgr.cols) * bgr.rows);
  const int channels = bgr.channels();
  for (int y = 0; y < bgr.rows; ++y) {
    const uint8_t* row = bgr.ptr<uint8_t>(y);
    for (int x = 0; x < bgr.cols; ++x) {
      const uint8_t* p = row + x * channels;  // OpenCV's order: B, G, R
      image.ids[static_cast<size_t>(y) * bgr.cols + x] =
          uint32_t{p[2]} + 256u * p[1] + 65536u * p[0];
    }
  }
  image.segments = annotation.segments;
  return image;
}

absl::Status WritePanopticPng(const std::string& path, int width, int height,
                              const std::vector<uint32_t>& ids) {
  if (ids.size() != static_cast<size_t>(width) * height) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", ids.size(), " ids for ", width, "x", height));
  }
  cv::Mat bgr(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    uint8_t* row = bgr.ptr<uint8_t>(y);
    for (int x = 0; x < width; ++x) {
      const uint32_t id = ids[static_cast<size_t>(y) * width + x];
      row[3 * x] = static_cast<uint8_t>(id >> 16);
      row[3 * x + 1] = static_cast<uint8_t>(id >> 8);
      row[3 * x + 2] = static_cast<uint8_t>(id);
    }
  }
  if (!cv::imwrite(path, bgr))
    return absl::PermissionDeniedError(absl::StrCat(path, ": cannot write"));
  return absl::OkStatus();
}

void ComputeAreasAndBoxes(int width, int height, const std::vector<uint32_t>& ids,
                          std::vector<PanopticSegment>* segments) {
  struct Extent {
    int64_t area = 0;
    int x0 = std::numeric_limits<int>::max(), y0 = std::numeric_limits<int>::max(), x1 = -1,
        y1 = -1;
  };
  absl::flat_hash_map<uint32_t, Extent> extents;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      Extent& e = extents[ids[static_cast<size_t>(y) * width + x]];
      ++e.area;
      e.x0 = std::min(e.x0, x);
      e.y0 = std::min(e.y0, y);
      e.x1 = std::max(e.x1, x);
      e.y1 = std::max(e.y1, y);
    }
  }
  for (PanopticSegment& s : *segments) {
    const auto it = extents.find(s.id);
    if (it == extents.end()) {
      s.area = 0;
      std::fill(std::begin(s.bbox), std::end(s.bbox), 0);
      continue;
    }
    const Extent& e = it->second;
    s.area = e.area;
    s.bbox[0] = e.x0;
    s.bbox[1] = e.y0;
    s.bbox[2] = e.x1 - e.x0 + 1;
    s.bbox[3] = e.y1 - e.y0 + 1;
  }
}

void KeepVisibleSegments(int width, int height, const std::vector<uint32_t>& ids,
                         std::vector<PanopticSegment>* segments) {
  ComputeAreasAndBoxes(width, height, ids, segments);
  segments->erase(std::remove_if(segments->begin(), segments->end(),
                                 [](const PanopticSegment& s) { return s.area == 0; }),
                  segments->end());
}

}  // namespace ovseg
