#include "datasets/caption_dataset.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace ovseg {
namespace {

struct CaptionRecord {
  std::string file_name, caption;
  std::vector<std::string> negatives;
};

class CaptionDataset : public Dataset {
 public:
  CaptionDataset(std::vector<CaptionRecord> records, std::string image_dir)
      : records_(std::move(records)), image_dir_(std::move(image_dir)) {}
  size_t size() const override { return records_.size(); }

  absl::StatusOr<Sample> Load(size_t index) const override {
    const CaptionRecord& r = records_.at(index);
    absl::StatusOr<Sample> sample =
        ReadRgbImage((std::filesystem::path(image_dir_) / r.file_name).string());
    if (!sample.ok()) return sample.status();
    sample->caption = r.caption;
    sample->negative_captions = r.negatives;
    return sample;
  }

 private:
  std::vector<CaptionRecord> records_;
  std::string image_dir_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Dataset>> OpenCaptionDataset(const std::string& captions_json,
                                                            const std::string& image_dir) {
  std::ifstream in(captions_json);
  if (!in) return absl::NotFoundError(absl::StrCat(captions_json, ": cannot open"));
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(captions_json, ": not a JSON list of {file_name, caption} records"));
  }
  if (j.empty()) return absl::InvalidArgumentError(absl::StrCat(captions_json, ": no records"));
  std::vector<CaptionRecord> records;
  records.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    const nlohmann::json& r = j[i];
    for (const char* key : {"file_name", "caption"}) {
      if (!r.is_object() || !r.contains(key) || !r[key].is_string() ||
          r[key].get<std::string>().empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(captions_json, ": record ", i, " has no non-empty string \"", key, "\""));
      }
    }
    std::vector<std::string> negatives;
    if (r.contains("negatives")) {
      const nlohmann::json& n = r["negatives"];
      bool ok = n.is_array();
      for (size_t k = 0; ok && k < n.size(); ++k) ok = n[k].is_string() && !n[k].empty();
      if (!ok) {
        return absl::InvalidArgumentError(absl::StrCat(
            captions_json, ": record ", i, ": \"negatives\" is not a list of non-empty strings"));
      }
      negatives = n.get<std::vector<std::string>>();
    }
    records.push_back(
        {r["file_name"].get<std::string>(), r["caption"].get<std::string>(), std::move(negatives)});
  }
  if (!std::filesystem::is_directory(image_dir)) {
    return absl::NotFoundError(absl::StrCat(image_dir, ": not a directory of images"));
  }
  return std::make_unique<CaptionDataset>(std::move(records), image_dir);
}

}  // namespace ovseg
