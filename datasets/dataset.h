// Training and evaluation samples from files: COCO panoptic (image + segment PNG + JSON)
// and semantic (image + label PNG of the same stem) datasets. Load(i) checks a sample
// fully and names the file and the problem (missing image, unreadable PNG, a segment id
// the JSON does not list, an unknown category); the loader reports such a sample and
// skips it, so nothing is ever silently mislabelled.
#ifndef OVSEG_DATASETS_DATASET_H_
#define OVSEG_DATASETS_DATASET_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "datasets/coco_panoptic.h"

namespace ovseg {

struct Sample {
  std::string name;  // the image file, for messages
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // interleaved RGB, row-major
  // Panoptic datasets: segment id per pixel (0 = VOID) and the segments, areas as the
  // pixels give them. Semantic datasets: class per pixel, `ignore` where unlabelled.
  std::vector<uint32_t> ids;
  std::vector<PanopticSegment> segments;
  std::vector<int32_t> labels;
  int ignore = 255;
  // Captioned datasets: the image's caption, and captions known to be wrong for it
  // (hard negatives; may be empty).
  std::string caption;
  std::vector<std::string> negative_captions;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual size_t size() const = 0;
  virtual absl::StatusOr<Sample> Load(size_t index) const = 0;
};

// COCO panoptic: `json` (categories, images, annotations), RGB images in `image_dir`
// (by the images' file_name), segment PNGs in `panoptic_dir`.
absl::StatusOr<std::unique_ptr<Dataset>> OpenCocoPanopticDataset(const std::string& json,
                                                                 const std::string& image_dir,
                                                                 const std::string& panoptic_dir);

// Semantic: every image in `image_dir` (.jpg, .png) with the label PNG of the same stem in
// `label_dir`; `ignore` is the unlabelled value, by default (negative) each map's
// convention: 255 for 8-bit, 65535 for 16-bit.
absl::StatusOr<std::unique_ptr<Dataset>> OpenSemanticDataset(const std::string& image_dir,
                                                             const std::string& label_dir,
                                                             int num_classes, int ignore = -1);

// The images (.jpg, .jpeg, .png) directly in `dir`, sorted; NOT_FOUND when there are none.
absl::StatusOr<std::vector<std::string>> ListImages(const std::string& dir);

// The RGB image at `path` (any format OpenCV reads), for datasets and tools.
absl::StatusOr<Sample> ReadRgbImage(const std::string& path);

}  // namespace ovseg

#endif  // OVSEG_DATASETS_DATASET_H_
