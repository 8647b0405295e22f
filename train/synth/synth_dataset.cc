#include "train/synth/synth_dataset.h"

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
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "train/data/coco_panoptic.h"
#include "train/data/label_png.h"
#include "train/synth/synth_vocabulary.h"

namespace ovseg {
namespace {

namespace fs = std::filesystem;
constexpr int kSemanticVoid = 255;

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
  for (const char* d : {"images", "panoptic", "semantic"}) {
    std::error_code error;
    fs::create_directories(root / d, error);
    if (error)
      return absl::PermissionDeniedError(absl::StrCat((root / d).string(), ": ", error.message()));
  }
  // Unnamed content is generator training data: train only, so that val stays the world.
  SceneOptions scene_options = o.scene;
  if (!split.seen_only) {
    scene_options.unnamed_things = 0;
    scene_options.unnamed_stuff = 0.0;
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
  std::atomic<int> next{0};
  absl::Mutex mu;
  absl::Status first_error;
  const int threads = o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = next++; i < split.count; i = next++) {
        SynthScene scene = GenerateScene(MixSeed(o.seed, (stream << 32) | i), scene_options);
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
        const std::string stem = absl::StrFormat("%06d", i + 1);
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
