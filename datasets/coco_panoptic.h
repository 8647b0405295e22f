// COCO panoptic format (docs/design.md "Datasets"): a JSON with categories (id, name, isthing,
// optional synonyms), images and annotations (file_name of a PNG, segments_info with id,
// category_id, iscrowd, area, bbox), and per-image PNGs whose pixels hold
// id = R + 256 G + 256^2 B (0 = VOID). Readers name the file and the field of every
// problem; writers produce what panopticapi reads.
#ifndef OVSEG_DATASETS_COCO_PANOPTIC_H_
#define OVSEG_DATASETS_COCO_PANOPTIC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "evaluation/panoptic_quality.h"

namespace ovseg {

struct CocoCategory {
  PanopticCategory category;
  std::vector<std::string> synonyms;  // optional extra names
  // Optional "seen" field (an ovseg extension open-vocabulary splits use): whether the
  // class was annotated in training. Absent: unknown, and analyses report it with neither.
  std::optional<bool> seen = std::nullopt;
};

struct CocoImageInfo {
  int64_t id = 0;
  std::string file_name;  // the RGB image
  int width = 0, height = 0;
};

struct CocoPanopticAnnotation {
  int64_t image_id = 0;
  std::string file_name;  // the segment PNG
  std::vector<PanopticSegment> segments;
};

struct CocoPanoptic {
  std::vector<CocoCategory> categories;
  std::vector<CocoImageInfo> images;  // may be empty in prediction files
  std::vector<CocoPanopticAnnotation> annotations;

  std::vector<PanopticCategory> PanopticCategories() const;
};

absl::StatusOr<CocoPanoptic> ReadCocoPanopticJson(const std::string& path);
absl::Status WriteCocoPanopticJson(const std::string& path, const CocoPanoptic& dataset);

// The segment PNG of `annotation` in `dir`, with the annotation's segments attached.
absl::StatusOr<PanopticImage> ReadPanopticPng(const std::string& dir,
                                              const CocoPanopticAnnotation& annotation);
absl::Status WritePanopticPng(const std::string& path, int width, int height,
                              const std::vector<uint32_t>& ids);

// Sets each segment's area and bounding box from `ids` (segments absent from it get 0).
void ComputeAreasAndBoxes(int width, int height, const std::vector<uint32_t>& ids,
                          std::vector<PanopticSegment>* segments);
// The same, then drops the segments with no pixel left (occluded, cropped away): what a
// segment list must satisfy before it is written or scored (every JSON id in the PNG).
void KeepVisibleSegments(int width, int height, const std::vector<uint32_t>& ids,
                         std::vector<PanopticSegment>* segments);

}  // namespace ovseg

#endif  // OVSEG_DATASETS_COCO_PANOPTIC_H_
