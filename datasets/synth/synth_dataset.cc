#include "datasets/synth/synth_dataset.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "datasets/coco_panoptic.h"
#include "datasets/label_png.h"
#include "datasets/synth/synth_vocabulary.h"
#include "evaluation/region_crops.h"

namespace ovseg {
namespace {

namespace fs = std::filesystem;
constexpr int kSemanticVoid = 255;
// Region captions of segments whose crop is smaller than this (pixels a side) are left
// out: a 6-pixel thing blown up to the CLIP's input shows its colour and no shape, and its
// caption would teach the shape word from nothing.
constexpr int kMinRegionSide = 16;

struct RegionRecord {
  std::string file_name, mask_file_name, caption;
  uint32_t segment_id = 0;
  std::vector<std::string> negatives;
};

// SceneOptions::region_captions: each named region of `scene` (before unseen classes are
// made VOID: captions name everything) cut out as CLIP's masked crop, written next to the
// scene's image as images/<stem>_<segment id>.jpg, and its mask over the whole scene as
// region_masks/<stem>_<segment id>.png (255 inside, 0 outside), for training on the
// region where it lies in the scene rather than cut out.
absl::StatusOr<std::vector<RegionRecord>> WriteRegionCrops(const SynthScene& scene,
                                                           const fs::path& root,
                                                           const std::string& stem,
                                                           int jpeg_quality) {
  const fs::path image_dir = root / "images", mask_dir = root / "region_masks";
  PanopticImage truth{stem, scene.width, scene.height, scene.ids, {}};
  for (const RegionCaption& region : scene.regions) {
    PanopticSegment segment;
    segment.id = region.segment_id;
    truth.segments.push_back(segment);
  }
  std::vector<RegionCrop> crops = CropRegions(scene.rgb.data(), truth, CropStyle::kMasked);
  // CropRegions skips segments with no pixels; the generator keeps none such.
  if (crops.size() != scene.regions.size()) {
    return absl::InternalError(absl::StrCat(stem, ": a region caption names no pixels"));
  }
  std::vector<RegionRecord> records;
  for (size_t k = 0; k < crops.size(); ++k) {
    if (crops[k].size < kMinRegionSide) continue;
    const RegionCaption& region = scene.regions[k];
    const std::string name = absl::StrCat(stem, "_", region.segment_id);
    RegionRecord record{name + ".jpg", name + ".png", region.caption, region.segment_id,
                        region.negative_captions};
    cv::Mat rgb(crops[k].size, crops[k].size, CV_8UC3, crops[k].rgb.data()), bgr;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    if (!cv::imwrite((image_dir / record.file_name).string(), bgr,
                     {cv::IMWRITE_JPEG_QUALITY, jpeg_quality})) {
      return absl::PermissionDeniedError(absl::StrCat(image_dir.string(), ": cannot write"));
    }
    cv::Mat mask(scene.height, scene.width, CV_8UC1);
    for (size_t p = 0; p < scene.ids.size(); ++p) {
      mask.data[p] = scene.ids[p] == region.segment_id ? 255 : 0;
    }
    if (!cv::imwrite((mask_dir / record.mask_file_name).string(), mask)) {
      return absl::PermissionDeniedError(absl::StrCat(mask_dir.string(), ": cannot write"));
    }
    records.push_back(std::move(record));
  }
  return records;
}

absl::Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) return absl::PermissionDeniedError(absl::StrCat(path, ": cannot write"));
  return absl::OkStatus();
}

struct SplitSpec {
  const char* name;
  int count;
  bool seen_only;
};

absl::Status WriteSplit(const SynthDatasetOptions& o, const SplitSpec& split, uint64_t stream,
                        Progress* progress) {
  const SynthVocabulary& vocabulary = SynthVocabulary::Get();
  const fs::path root = fs::path(o.out_dir) / split.name;
  std::vector<const char*> dirs = {"images", "panoptic", "semantic"};
  if (o.scene.region_captions) dirs.push_back("region_masks");
  for (const char* d : dirs) {
    std::error_code error;
    fs::create_directories(root / d, error);
    if (error)
      return absl::PermissionDeniedError(absl::StrCat((root / d).string(), ": ", error.message()));
  }
  // Unnamed content and seen-only scenes are generator training data: train only, so that
  // val stays the world.
  SceneOptions scene_options = o.scene;
  if (!split.seen_only) {
    scene_options.unnamed_things = 0;
    scene_options.unnamed_stuff = 0.0;
    scene_options.seen_classes_only = false;
  }
  CocoPanoptic dataset;
  for (const SynthClass& c : vocabulary.classes()) {
    if (split.seen_only && !c.seen) continue;
    dataset.categories.push_back({{c.id, c.name, c.isthing}, {}, c.seen});
  }
  if (scene_options.unnamed_things > 0) {
    dataset.categories.push_back({{UnnamedThingId(), "unnamed object", true}, {}, true});
  }
  if (scene_options.unnamed_stuff > 0.0) {
    dataset.categories.push_back({{UnnamedStuffId(), "unnamed region", false}, {}, true});
  }
  dataset.images.resize(split.count);
  dataset.annotations.resize(split.count);
  std::vector<std::string> captions(split.count);
  std::vector<std::vector<std::string>> negatives(split.count);
  std::vector<std::vector<RegionRecord>> regions(split.count);
  std::atomic<int> next{0};
  absl::Mutex mu;
  absl::Status first_error;
  const int threads = o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = next++; i < split.count; i = next++) {
        SynthScene scene = GenerateScene(MixSeed(o.seed, (stream << 32) | i), scene_options);
        const std::string stem = absl::StrFormat("%06d", i + 1);
        absl::StatusOr<std::vector<RegionRecord>> region_records =
            WriteRegionCrops(scene, root, stem, o.jpeg_quality);
        if (!region_records.ok()) {
          absl::MutexLock lock(&mu);
          if (first_error.ok()) first_error = region_records.status();
          return;
        }
        regions[i] = *std::move(region_records);
        if (split.seen_only) {  // unseen classes are not annotated in training
          std::vector<PanopticSegment> kept;
          absl::flat_hash_set<uint32_t> unseen;
          for (const PanopticSegment& s : scene.segments) {
            if (IsUnnamedId(s.category_id) || vocabulary.ById(s.category_id).seen) {
              kept.push_back(s);
            } else {
              unseen.insert(s.id);
            }
          }
          for (uint32_t& id : scene.ids) {
            if (unseen.contains(id)) id = 0;
          }
          scene.segments = std::move(kept);
        }
        ComputeAreasAndBoxes(scene.width, scene.height, scene.ids, &scene.segments);
        cv::Mat rgb(scene.height, scene.width, CV_8UC3, scene.rgb.data()), bgr;
        cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
        absl::Status s;
        if (!cv::imwrite((root / "images" / (stem + ".jpg")).string(), bgr,
                         {cv::IMWRITE_JPEG_QUALITY, o.jpeg_quality})) {
          s = absl::PermissionDeniedError(absl::StrCat(root.string(), ": cannot write images"));
        }
        if (s.ok()) {
          s = WritePanopticPng((root / "panoptic" / (stem + ".png")).string(), scene.width,
                               scene.height, scene.ids);
        }
        if (s.ok()) {
          LabelMap semantic{scene.width, scene.height, 8,
                            std::vector<int32_t>(scene.ids.size(), kSemanticVoid)};
          absl::flat_hash_map<uint32_t, int> category;
          for (const PanopticSegment& seg : scene.segments) category[seg.id] = seg.category_id;
          for (size_t p = 0; p < scene.ids.size(); ++p) {
            const auto it = category.find(scene.ids[p]);
            if (it != category.end()) semantic.labels[p] = it->second - 1;
          }
          s = WriteLabelPng((root / "semantic" / (stem + ".png")).string(), semantic);
        }
        if (!s.ok()) {
          absl::MutexLock lock(&mu);
          if (first_error.ok()) first_error = s;
          return;
        }
        dataset.images[i] = {i + 1, stem + ".jpg", scene.width, scene.height};
        dataset.annotations[i] = {i + 1, stem + ".png", scene.segments};
        captions[i] = scene.caption;
        negatives[i] = std::move(scene.negative_captions);
        if (progress != nullptr) progress->Advance();
      }
    });
  }
  for (std::thread& t : pool) t.join();
  if (!first_error.ok()) return first_error;
  if (absl::Status s = WriteCocoPanopticJson((root / "panoptic.json").string(), dataset); !s.ok()) {
    return s;
  }
  nlohmann::json caption_json = nlohmann::json::array();
  for (int i = 0; i < split.count; ++i) {
    nlohmann::json record = {
        {"image_id", i + 1}, {"file_name", dataset.images[i].file_name}, {"caption", captions[i]}};
    if (!negatives[i].empty()) record["negatives"] = negatives[i];
    caption_json.push_back(std::move(record));
  }
  // Region captions after every scene's, so a corpus's scene records keep their indices.
  for (int i = 0; i < split.count; ++i) {
    for (RegionRecord& region : regions[i]) {
      nlohmann::json record = {{"image_id", i + 1},
                               {"segment_id", region.segment_id},
                               {"file_name", std::move(region.file_name)},
                               {"scene_file_name", dataset.images[i].file_name},
                               {"mask_file_name", std::move(region.mask_file_name)},
                               {"caption", std::move(region.caption)}};
      if (!region.negatives.empty()) record["negatives"] = std::move(region.negatives);
      caption_json.push_back(std::move(record));
    }
  }
  return WriteText((root / "captions.json").string(), caption_json.dump(1));
}

}  // namespace

std::string DescribeSynthSplit() {
  const SynthVocabulary& v = SynthVocabulary::Get();
  std::string seen, combinations, new_words;
  int n_seen = 0, n_combination = 0, n_word = 0;
  auto has_caption_only_word = [](const std::string& name) {
    for (const std::string& word : SynthVocabulary::CaptionOnlyWords()) {
      if (absl::StrContains(absl::StrCat(" ", name, " "), absl::StrCat(" ", word, " ")))
        return true;
    }
    return false;
  };
  for (const SynthClass& c : v.classes()) {
    const std::string line =
        absl::StrCat("- ", c.id, " ", c.name, c.isthing ? "" : " (stuff)", "\n");
    if (c.seen) {
      seen += line;
      ++n_seen;
    } else if (has_caption_only_word(c.name)) {
      new_words += line;
      ++n_word;
    } else {
      combinations += line;
      ++n_combination;
    }
  }
  return absl::StrCat(
      "# The synthetic open-vocabulary world: its split\n\n"
      "Written by `ovseg-synth`. ",
      v.classes().size(),
      " classes: stuff textures and things "
      "named \"<colour> <pattern> <shape>\" (plain ones as \"<colour> <shape>\").\n\n"
      "- `train/` annotates only the ",
      n_seen,
      " seen classes: every other class's pixels are "
      "VOID in its panoptic PNGs (255 in its semantic PNGs) and absent from its panoptic.json.\n"
      "- `val/` annotates all classes. Score seen and unseen classes separately.\n"
      "- Captions (`captions.json`) name everything visible in every split, unseen classes "
      "included: they are what a CLIP pretrained on this world reads.\n\n"
      "Unseen classes come in two kinds:\n\n"
      "1. ",
      n_combination,
      " new combinations of words that seen classes use (each colour, "
      "pattern and shape of them is in some seen class);\n"
      "2. ",
      n_word, " classes with a word no segmentation label ever uses, only captions: ",
      absl::StrJoin(SynthVocabulary::CaptionOnlyWords(), ", "),
      ".\n\n"
      "Semantic PNG values are class id - 1.\n\n## Seen\n\n",
      seen, "\n## Unseen: new combinations\n\n", combinations,
      "\n## Unseen: words only captions use\n\n", new_words);
}

absl::Status WriteSynthDataset(const SynthDatasetOptions& options, Progress* progress) {
  if (options.out_dir.empty()) return absl::InvalidArgumentError("--out is required");
  if (options.num_train < 0 || options.num_val < 0) {
    return absl::InvalidArgumentError("image counts must be >= 0");
  }
  if (absl::Status s = ValidateSceneOptions(options.scene); !s.ok()) return s;
  std::error_code error;
  fs::create_directories(options.out_dir, error);
  if (error)
    return absl::PermissionDeniedError(absl::StrCat(options.out_dir, ": ", error.message()));
  const SynthVocabulary& v = SynthVocabulary::Get();
  nlohmann::json classes = nlohmann::json::array();
  for (const SynthClass& c : v.classes()) {
    classes.push_back(
        {{"id", c.id}, {"name", c.name}, {"isthing", c.isthing ? 1 : 0}, {"seen", c.seen ? 1 : 0}});
  }
  const nlohmann::json vocabulary = {{"classes", classes},
                                     {"caption_only_words", SynthVocabulary::CaptionOnlyWords()},
                                     {"seed", options.seed}};
  if (absl::Status s =
          WriteText((fs::path(options.out_dir) / "vocabulary.json").string(), vocabulary.dump(1));
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          WriteText((fs::path(options.out_dir) / "SPLIT.md").string(), DescribeSynthSplit());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = WriteSplit(options, {"train", options.num_train, true}, 0, progress);
      !s.ok()) {
    return s;
  }
  return WriteSplit(options, {"val", options.num_val, false}, 1, progress);
}

}  // namespace ovseg
