#include "datasets/dataset.h"

#include <algorithm>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "datasets/label_png.h"

namespace ovseg {
namespace {

namespace fs = std::filesystem;

class CocoPanopticDataset : public Dataset {
 public:
  CocoPanopticDataset(CocoPanoptic coco, std::string image_dir, std::string panoptic_dir)
      : coco_(std::move(coco)),
        image_dir_(std::move(image_dir)),
        panoptic_dir_(std::move(panoptic_dir)) {
    for (const CocoImageInfo& m : coco_.images) image_of_[m.id] = &m;
    for (const CocoCategory& c : coco_.categories) categories_.insert(c.category.id);
  }
  size_t size() const override { return coco_.annotations.size(); }

  absl::StatusOr<Sample> Load(size_t index) const override {
    const CocoPanopticAnnotation& a = coco_.annotations.at(index);
    const auto info = image_of_.find(a.image_id);
    if (info == image_of_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("annotation ", a.file_name, ": image_id ", a.image_id, " is not in images"));
    }
    absl::StatusOr<Sample> sample =
        ReadRgbImage((fs::path(image_dir_) / info->second->file_name).string());
    if (!sample.ok()) return sample.status();
    absl::StatusOr<PanopticImage> panoptic = ReadPanopticPng(panoptic_dir_, a);
    if (!panoptic.ok()) return panoptic.status();
    if (panoptic->width != sample->width || panoptic->height != sample->height) {
      return absl::InvalidArgumentError(absl::StrCat(a.file_name, " is ", panoptic->width, "x",
                                                     panoptic->height, ", its image ",
                                                     sample->width, "x", sample->height));
    }
    absl::flat_hash_set<uint32_t> listed;
    for (const PanopticSegment& s : a.segments) {
      if (!categories_.contains(s.category_id)) {
        return absl::InvalidArgumentError(absl::StrCat(a.file_name, ": segment ", s.id,
                                                       " has unknown category_id ", s.category_id));
      }
      listed.insert(s.id);
    }
    for (uint32_t id : panoptic->ids) {
      if (id != 0 && !listed.contains(id)) {
        return absl::InvalidArgumentError(
            absl::StrCat(a.file_name, ": segment id ", id, " is in the PNG but not in the JSON"));
      }
    }
    sample->ids = std::move(panoptic->ids);
    sample->segments = a.segments;
    ComputeAreasAndBoxes(sample->width, sample->height, sample->ids, &sample->segments);
    return sample;
  }

 private:
  CocoPanoptic coco_;
  std::string image_dir_, panoptic_dir_;
  absl::flat_hash_map<int64_t, const CocoImageInfo*> image_of_;
  absl::flat_hash_set<int> categories_;
};

class SemanticDataset : public Dataset {
 public:
  SemanticDataset(std::vector<std::string> images, std::string label_dir, int num_classes,
                  int ignore)
      : images_(std::move(images)),
        label_dir_(std::move(label_dir)),
        num_classes_(num_classes),
        ignore_(ignore) {}
  size_t size() const override { return images_.size(); }

  absl::StatusOr<Sample> Load(size_t index) const override {
    absl::StatusOr<Sample> sample = ReadRgbImage(images_.at(index));
    if (!sample.ok()) return sample.status();
    const std::string label_path =
        (fs::path(label_dir_) / (fs::path(images_[index]).stem().string() + ".png")).string();
    absl::StatusOr<LabelMap> labels = ReadLabelPng(label_path);
    if (!labels.ok()) return labels.status();
    if (labels->width != sample->width || labels->height != sample->height) {
      return absl::InvalidArgumentError(absl::StrCat(label_path, " is ", labels->width, "x",
                                                     labels->height, ", its image ", sample->width,
                                                     "x", sample->height));
    }
    // Each map's own convention unless the dataset was given one.
    const int ignore = ignore_ >= 0 ? ignore_ : DefaultIgnoreLabel(labels->bits);
    for (int32_t v : labels->labels) {
      if (v != ignore && (v < 0 || v >= num_classes_)) {
        return absl::InvalidArgumentError(absl::StrCat(label_path, ": value ", v,
                                                       " is neither a class (0..", num_classes_ - 1,
                                                       ") nor ignore ", ignore));
      }
    }
    sample->labels = std::move(labels->labels);
    sample->ignore = ignore;
    return sample;
  }

 private:
  std::vector<std::string> images_;
  std::string label_dir_;
  int num_classes_, ignore_;
};

}  // namespace

absl::StatusOr<Sample> ReadRgbImage(const std::string& path) {
  if (!fs::exists(path)) return absl::NotFoundError(absl::StrCat(path, ": missing"));
  cv::Mat bgr = cv::imread(path, cv::IMREAD_COLOR);
  if (bgr.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": not a readable image"));
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  Sample s;
  s.name = fs::path(path).filename().string();
  s.width = rgb.cols;
  s.height = rgb.rows;
  s.rgb.assign(rgb.data, rgb.data + rgb.total() * 3);
  return s;
}

absl::StatusOr<std::vector<std::string>> ListImages(const std::string& dir) {
  std::vector<std::string> images;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    const std::string ext = entry.path().extension().string();
    if (entry.is_regular_file() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png")) {
      images.push_back(entry.path().string());
    }
  }
  if (error) return absl::NotFoundError(absl::StrCat(dir, ": ", error.message()));
  std::sort(images.begin(), images.end());
  if (images.empty()) return absl::NotFoundError(absl::StrCat(dir, ": no images"));
  return images;
}

absl::StatusOr<std::unique_ptr<Dataset>> OpenCocoPanopticDataset(const std::string& json,
                                                                 const std::string& image_dir,
                                                                 const std::string& panoptic_dir) {
  absl::StatusOr<CocoPanoptic> coco = ReadCocoPanopticJson(json);
  if (!coco.ok()) return coco.status();
  for (const std::string& dir : {image_dir, panoptic_dir}) {
    if (!fs::is_directory(dir))
      return absl::NotFoundError(absl::StrCat(dir, ": no such directory"));
  }
  return std::unique_ptr<Dataset>(
      std::make_unique<CocoPanopticDataset>(*std::move(coco), image_dir, panoptic_dir));
}

absl::StatusOr<std::unique_ptr<Dataset>> OpenSemanticDataset(const std::string& image_dir,
                                                             const std::string& label_dir,
                                                             int num_classes, int ignore) {
  for (const std::string& dir : {image_dir, label_dir}) {
    if (!fs::is_directory(dir))
      return absl::NotFoundError(absl::StrCat(dir, ": no such directory"));
  }
  absl::StatusOr<std::vector<std::string>> images = ListImages(image_dir);
  if (!images.ok()) return images.status();
  return std::unique_ptr<Dataset>(
      std::make_unique<SemanticDataset>(*std::move(images), label_dir, num_classes, ignore));
}

}  // namespace ovseg
