// The synthetic open-vocabulary world: the split's promises (every word of an unseen
// combination is in some seen class; caption-only words are in no seen class; training
// annotations hold seen classes only), determinism across thread counts, annotations that
// agree with the pixels, captions that name what is visible, and files that ovseg-eval
// scores (ground truth against itself: PQ 100).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "datasets/coco_panoptic.h"
#include "datasets/dataset.h"
#include "datasets/label_png.h"
#include "datasets/synth/synth_dataset.h"
#include "datasets/synth/synth_vocabulary.h"
#include "evaluation/file_evaluation.h"

namespace ovseg {
namespace {

namespace fs = std::filesystem;

std::set<std::string> Words(const std::string& name) {
  std::set<std::string> words;
  for (absl::string_view w : absl::StrSplit(name, ' ')) words.insert(std::string(w));
  return words;
}

TEST(SynthVocabularyTest, TheSplitKeepsItsPromises) {
  const SynthVocabulary& v = SynthVocabulary::Get();
  std::set<std::string> seen_words;
  std::set<std::string> names;
  int unseen = 0;
  for (const SynthClass& c : v.classes()) {
    EXPECT_TRUE(names.insert(c.name).second) << "duplicate " << c.name;
    if (c.seen) {
      for (const std::string& w : Words(c.name)) seen_words.insert(w);
    }
  }
  const std::vector<std::string> caption_only = SynthVocabulary::CaptionOnlyWords();
  for (const std::string& w : caption_only) EXPECT_EQ(seen_words.count(w), 0u) << w;
  int combinations = 0;
  for (const SynthClass& c : v.classes()) {
    if (c.seen) continue;
    ++unseen;
    bool has_new_word = false;
    for (const std::string& w : Words(c.name)) {
      has_new_word |= std::find(caption_only.begin(), caption_only.end(), w) != caption_only.end();
    }
    if (has_new_word) continue;
    ++combinations;
    // A new combination: every one of its words is in some seen class.
    for (const std::string& w : Words(c.name)) EXPECT_EQ(seen_words.count(w), 1u) << c.name;
  }
  EXPECT_GT(combinations, 5);
  EXPECT_GT(unseen - combinations, 5);
  EXPECT_EQ(v.ById(1).name, "grass");
  EXPECT_FALSE(v.ById(1).isthing);
}

TEST(SceneGeneratorTest, DeterministicAndConsistent) {
  SceneOptions o;
  const SynthScene a = GenerateScene(MixSeed(5, 7), o), b = GenerateScene(MixSeed(5, 7), o);
  EXPECT_EQ(a.rgb, b.rgb);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.caption, b.caption);
  EXPECT_NE(GenerateScene(MixSeed(5, 8), o).rgb, a.rgb);
  for (uint64_t seed = 0; seed < 30; ++seed) {
    const SynthScene s = GenerateScene(MixSeed(1, seed), o);
    EXPECT_EQ(s.width % 32, 0);
    EXPECT_GE(s.width, 128);
    EXPECT_LE(s.height, 256);
    ASSERT_EQ(s.rgb.size(), s.ids.size() * 3);
    std::set<uint32_t> listed;
    for (const PanopticSegment& seg : s.segments) {
      listed.insert(seg.id);
      const SynthClass& c = SynthVocabulary::Get().ById(seg.category_id);
      // Captions name every visible class, things with an article.
      EXPECT_TRUE(absl::StrContains(s.caption, c.isthing ? "a " + c.name : c.name))
          << s.caption << " lacks " << c.name;
    }
    for (uint32_t id : s.ids) {
      if (id != 0) {
        EXPECT_EQ(listed.count(id), 1u) << "pixel id " << id << " has no segment";
      }
    }
  }
}

// Words of a caption, for comparing captions word by word.
std::vector<std::string> WordList(const std::string& caption) {
  return absl::StrSplit(caption, ' ', absl::SkipEmpty());
}

TEST(SceneGeneratorTest, HardNegativeCaptionsDifferInOneWord) {
  SceneOptions plain, with_negatives;
  with_negatives.caption_negatives = 3;
  int colour_swaps = 0, shape_swaps = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    const SynthScene a = GenerateScene(MixSeed(3, seed), plain);
    const SynthScene b = GenerateScene(MixSeed(3, seed), with_negatives);
    // Their own random stream: the scene is the same with or without them.
    EXPECT_EQ(a.rgb, b.rgb);
    EXPECT_EQ(a.caption, b.caption);
    EXPECT_TRUE(a.negative_captions.empty());
    ASSERT_EQ(b.negative_captions.size(), 3u) << b.caption;
    const std::vector<std::string> words = WordList(b.caption);
    for (const std::string& negative : b.negative_captions) {
      EXPECT_NE(negative, b.caption);
      const std::vector<std::string> other = WordList(negative);
      // A thing's plain pattern has no word, so a pattern swap may add or drop one word.
      int changed = 0;
      if (other.size() == words.size()) {
        for (size_t w = 0; w < words.size(); ++w) changed += words[w] != other[w];
        EXPECT_EQ(changed, 1) << b.caption << " vs " << negative;
      } else {
        EXPECT_EQ(std::abs(static_cast<int>(other.size()) - static_cast<int>(words.size())), 1)
            << b.caption << " vs " << negative;
      }
      for (const SynthClass& c : SynthVocabulary::Get().classes()) {
        if (!c.isthing) continue;
        const SynthColour& colour = SynthVocabulary::Colours()[c.colour];
        if (absl::StrContains(negative, colour.name) && !absl::StrContains(b.caption, colour.name))
          ++colour_swaps;
        if (absl::StrContains(negative, SynthVocabulary::ShapeName(c.shape)) &&
            !absl::StrContains(b.caption, SynthVocabulary::ShapeName(c.shape)))
          ++shape_swaps;
      }
    }
  }
  EXPECT_GT(colour_swaps, 0) << "no colour was ever swapped";
  EXPECT_GT(shape_swaps, 0) << "no shape was ever swapped";

  SceneOptions bad;
  bad.min_thing_radius = 0.3;
  bad.max_thing_radius = 0.2;
  EXPECT_NE(ValidateSceneOptions(bad).message().find("thing radius"), std::string::npos);
  bad = SceneOptions{};
  bad.caption_negatives = -1;
  EXPECT_EQ(ValidateSceneOptions(bad).code(), absl::StatusCode::kInvalidArgument);
}

// negative_words chooses the swapped word: shape only gives captions that differ from the
// scene's in a shape word and nothing else, with no repeats where there is room.
TEST(SceneGeneratorTest, NegativeWordsChooseWhatIsSwapped) {
  SceneOptions o;
  o.caption_negatives = 6;
  o.max_things = 1;
  o.negative_words = {CaptionWord::kShape};
  std::set<std::string> shapes;
  for (int s = 0; s < kNumShapes; ++s) shapes.insert(SynthVocabulary::ShapeName(Shape(s)));
  int checked = 0;
  for (uint64_t seed = 0; seed < 30; ++seed) {
    const SynthScene scene = GenerateScene(MixSeed(6, seed), o);
    if (scene.caption.find(" on ") == std::string::npos) continue;  // no thing to ask about
    const std::vector<std::string> words = WordList(scene.caption);
    std::set<std::string> distinct(scene.negative_captions.begin(), scene.negative_captions.end());
    EXPECT_EQ(distinct.size(), 6u) << "6 other shapes, 6 different negatives";
    for (const std::string& negative : scene.negative_captions) {
      const std::vector<std::string> other = WordList(negative);
      ASSERT_EQ(other.size(), words.size()) << negative;
      for (size_t w = 0; w < words.size(); ++w) {
        if (words[w] != other[w]) {
          EXPECT_EQ(shapes.count(words[w]) + shapes.count(other[w]), 2u)
              << scene.caption << " vs " << negative;
        }
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 60);
  absl::StatusOr<std::vector<CaptionWord>> words = ParseCaptionWords("shape,shape,colour,pattern");
  ASSERT_TRUE(words.ok());
  EXPECT_EQ(words->size(), 4u);
  EXPECT_EQ((*words)[2], CaptionWord::kColour);
  EXPECT_NE(ParseCaptionWords("shape,size").status().message().find("\"size\""), std::string::npos);
  o.negative_words.clear();
  EXPECT_NE(ValidateSceneOptions(o).message().find("negative_words"), std::string::npos);
}

// things_inside keeps every thing whole: no thing reaches the image border, where
// without it large things often do.
TEST(SceneGeneratorTest, ThingsInsideStayInTheFrame) {
  SceneOptions o;
  o.min_thing_radius = 0.1;
  o.max_thing_radius = 0.45;
  auto touching = [](const SceneOptions& options) {
    int touches = 0;
    for (uint64_t seed = 0; seed < 40; ++seed) {
      SynthScene s = GenerateScene(MixSeed(8, seed), options);
      ComputeAreasAndBoxes(s.width, s.height, s.ids, &s.segments);
      for (const PanopticSegment& seg : s.segments) {
        if (!SynthVocabulary::Get().ById(seg.category_id).isthing) continue;
        const auto& b = seg.bbox;  // x, y, w, h
        touches += b[0] <= 0 || b[1] <= 0 || b[0] + b[2] >= s.width || b[1] + b[3] >= s.height;
      }
    }
    return touches;
  };
  EXPECT_GT(touching(o), 10);
  o.things_inside = true;
  EXPECT_EQ(touching(o), 0);
}

// Unnamed content (generator data): off, scenes are the earlier ones pixel for pixel; on,
// unnamed objects and textures appear under their own ids, never in captions, and the
// named content keeps its annotations.
TEST(SceneGeneratorTest, UnnamedContentIsAnnotatedButNeverNamed) {
  SceneOptions plain, unnamed;
  unnamed.unnamed_things = 3;
  unnamed.unnamed_stuff = 0.5;
  const SynthVocabulary& v = SynthVocabulary::Get();
  EXPECT_EQ(UnnamedThingId(), static_cast<int>(v.classes().size()) + 1);
  EXPECT_EQ(UnnamedStuffId(), UnnamedThingId() + 1);
  int unnamed_things = 0, unnamed_stuff = 0, named = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    const SynthScene s = GenerateScene(MixSeed(4, seed), unnamed);
    std::set<uint32_t> listed;
    for (const PanopticSegment& seg : s.segments) {
      listed.insert(seg.id);
      if (seg.category_id == UnnamedThingId()) {
        ++unnamed_things;
      } else if (seg.category_id == UnnamedStuffId()) {
        ++unnamed_stuff;
      } else {
        ++named;
        const SynthClass& c = v.ById(seg.category_id);
        EXPECT_TRUE(absl::StrContains(s.caption, c.name)) << s.caption << " lacks " << c.name;
      }
    }
    EXPECT_FALSE(absl::StrContains(s.caption, "unnamed")) << s.caption;
    for (uint32_t id : s.ids) {
      if (id != 0) {
        ASSERT_EQ(listed.count(id), 1u) << "pixel id " << id << " has no segment";
      }
    }
  }
  EXPECT_GT(unnamed_things, 20);
  EXPECT_GT(unnamed_stuff, 10);
  EXPECT_GT(named, 40);
  // Without unnamed content a seed gives the scene it gave before the option existed
  // (ovseg-synth --seed 1, val image 1, as data/demo/synth holds it): every published split
  // and the demo's scene stay the same. FNV-1a of the panoptic ids, little-endian uint32.
  const SynthScene before = GenerateScene(MixSeed(1, (uint64_t{1} << 32) | 0), plain);
  EXPECT_EQ(before.caption,
            "a green dotted cross, a white dotted heart and a white dotted circle on sand");
  uint64_t fnv = 0xcbf29ce484222325ull;
  for (uint32_t id : before.ids) {
    for (int byte = 0; byte < 4; ++byte) {
      fnv = (fnv ^ ((id >> (8 * byte)) & 0xFF)) * 0x100000001b3ull;
    }
  }
  EXPECT_EQ(fnv, 0x4070a4fe6053cd80ull);

  SceneOptions bad;
  bad.unnamed_stuff = 1.5;
  EXPECT_NE(ValidateSceneOptions(bad).message().find("unnamed_stuff"), std::string::npos);
  bad = SceneOptions{};
  bad.unnamed_things = -1;
  EXPECT_NE(ValidateSceneOptions(bad).message().find("unnamed_things"), std::string::npos);
}

// Seen-only scenes (generator data) draw no unseen class, so a train split of them has no
// VOID pixel from an unseen class; without the option unseen classes do appear.
TEST(SceneGeneratorTest, SeenClassesOnlyDrawsNoUnseenClass) {
  SceneOptions all, seen_only;
  seen_only.seen_classes_only = true;
  const SynthVocabulary& v = SynthVocabulary::Get();
  int unseen_without = 0, segments_with = 0;
  std::set<int> stuff_with;
  for (uint64_t seed = 0; seed < 60; ++seed) {
    for (const PanopticSegment& seg : GenerateScene(MixSeed(5, seed), all).segments) {
      unseen_without += v.ById(seg.category_id).seen ? 0 : 1;
    }
    for (const PanopticSegment& seg : GenerateScene(MixSeed(5, seed), seen_only).segments) {
      ++segments_with;
      EXPECT_TRUE(v.ById(seg.category_id).seen) << v.ById(seg.category_id).name;
      if (!v.ById(seg.category_id).isthing) stuff_with.insert(seg.category_id);
    }
  }
  EXPECT_GT(unseen_without, 20);
  EXPECT_GT(segments_with, 100);
  EXPECT_EQ(stuff_with.size(), 6u) << "every seen texture is still drawn";
}

// A train split with unnamed content lists their two categories; val stays the world's.
// A small dataset's options, written into a fresh folder of the test's temporary dir.
SynthDatasetOptions SmallDataset(const std::string& folder, int train, int val, int min_size,
                                 int max_size) {
  SynthDatasetOptions o;
  o.out_dir = (fs::path(::testing::TempDir()) / folder).string();
  fs::remove_all(o.out_dir);
  o.num_train = train;
  o.num_val = val;
  o.scene.min_size = min_size;
  o.scene.max_size = max_size;
  return o;
}

// Region captions name each thing alone, with negatives of it, and leave the scene as it
// was; stuff gets none (its few names would repeat in every batch).
TEST(SceneGeneratorTest, RegionCaptionsNameEachThingAlone) {
  SceneOptions plain, regions;
  regions.caption_negatives = 3;
  regions.region_captions = true;
  int things = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const SynthScene a = GenerateScene(MixSeed(4, seed), plain);
    const SynthScene b = GenerateScene(MixSeed(4, seed), regions);
    EXPECT_EQ(a.rgb, b.rgb);
    EXPECT_EQ(a.caption, b.caption);
    EXPECT_TRUE(a.regions.empty());
    std::vector<const PanopticSegment*> thing_segments;
    for (const PanopticSegment& s : b.segments) {
      if (SynthVocabulary::Get().ById(s.category_id).isthing) thing_segments.push_back(&s);
    }
    ASSERT_EQ(b.regions.size(), thing_segments.size()) << b.caption;
    for (size_t k = 0; k < b.regions.size(); ++k) {
      const RegionCaption& r = b.regions[k];
      EXPECT_EQ(r.segment_id, thing_segments[k]->id);
      const SynthClass& c = SynthVocabulary::Get().ById(thing_segments[k]->category_id);
      EXPECT_EQ(r.caption, "a " + c.name);
      EXPECT_TRUE(absl::StrContains(b.caption, r.caption)) << b.caption;
      ASSERT_EQ(r.negative_captions.size(), 3u);
      for (const std::string& negative : r.negative_captions) {
        EXPECT_NE(negative, r.caption);
        EXPECT_FALSE(absl::StrContains(negative, " on ")) << negative;
        EXPECT_TRUE(absl::StartsWith(negative, "a ")) << negative;
      }
      ++things;
    }
  }
  EXPECT_GT(things, 10);

  // Stuff regions join with stuff_region_captions: named alone, negatives other stuff.
  regions.stuff_region_captions = 1.0;
  int stuff = 0;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    const SynthScene b = GenerateScene(MixSeed(4, seed), regions);
    ASSERT_EQ(b.regions.size(), b.segments.size()) << "every region captioned at 1.0";
    for (size_t k = 0; k < b.regions.size(); ++k) {
      const SynthClass& c = SynthVocabulary::Get().ById(b.segments[k].category_id);
      if (c.isthing) continue;
      ++stuff;
      EXPECT_EQ(b.regions[k].caption, c.name);
      for (const std::string& negative : b.regions[k].negative_captions) {
        bool is_stuff = false;
        for (int id : SynthVocabulary::Get().StuffIds()) {
          is_stuff |= SynthVocabulary::Get().ById(id).name == negative;
        }
        EXPECT_TRUE(is_stuff && negative != c.name) << negative;
      }
    }
  }
  EXPECT_GT(stuff, 10);
  regions.stuff_region_captions = 1.5;
  EXPECT_NE(ValidateSceneOptions(regions).message().find("stuff_region_captions"),
            std::string::npos);
}

// --region-captions writes each thing's masked crop next to the scene and its record after
// every scene's; unseen things of the train split are captioned too (captions name
// everything), and what lies outside the thing is CLIP's mean colour.
TEST(SynthDatasetTest, RegionCaptionsAreMaskedCropsOfEveryThing) {
  SynthDatasetOptions o = SmallDataset("synth_regions", 10, 0, 96, 128);
  o.scene.min_thing_radius = 0.2;
  o.scene.max_thing_radius = 0.3;
  o.scene.region_captions = true;
  ASSERT_TRUE(WriteSynthDataset(o).ok());
  std::ifstream in(o.out_dir + "/train/captions.json");
  const nlohmann::json records = nlohmann::json::parse(in);
  ASSERT_GT(records.size(), 10u);
  bool unseen_named = false;
  int crops = 0, crops_with_mean_corner = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const nlohmann::json& r = records[i];
    EXPECT_EQ(r.contains("segment_id"), i >= 10) << "scene records first, then regions";
    if (i < 10) continue;
    const std::string caption = r["caption"];
    const SynthClass* named = nullptr;
    for (const SynthClass& c : SynthVocabulary::Get().classes()) {
      if (c.isthing && caption == "a " + c.name) named = &c;
    }
    ASSERT_NE(named, nullptr) << caption;
    unseen_named |= !named->seen;
    absl::StatusOr<Sample> crop =
        ReadRgbImage(o.out_dir + "/train/images/" + r["file_name"].get<std::string>());
    ASSERT_TRUE(crop.ok()) << crop.status();
    EXPECT_EQ(crop->width, crop->height);
    EXPECT_GE(crop->width, 16);
    // A crop's corners lie outside a circle, ring, star, ... but an upright square fills
    // its box, so most crops, not all, show the mean colour in a corner.
    int near_mean = 0;
    for (int corner :
         {0, crop->width - 1, (crop->height - 1) * crop->width, crop->height * crop->width - 1}) {
      const uint8_t* p = &crop->rgb[static_cast<size_t>(corner) * 3];
      near_mean +=
          std::abs(p[0] - 123) < 12 && std::abs(p[1] - 117) < 12 && std::abs(p[2] - 104) < 12;
    }
    crops_with_mean_corner += near_mean > 0;
    ++crops;
    // Its mask over the scene: binary, scene-sized, and the crop's square around its box.
    EXPECT_EQ(r["scene_file_name"], absl::StrFormat("%06d.jpg", r["image_id"].get<int>()));
    const cv::Mat mask =
        cv::imread(o.out_dir + "/train/region_masks/" + r["mask_file_name"].get<std::string>(),
                   cv::IMREAD_UNCHANGED);
    ASSERT_FALSE(mask.empty()) << r["mask_file_name"];
    absl::StatusOr<Sample> scene =
        ReadRgbImage(o.out_dir + "/train/images/" + r["scene_file_name"].get<std::string>());
    ASSERT_TRUE(scene.ok());
    EXPECT_EQ(mask.cols, scene->width);
    EXPECT_EQ(mask.rows, scene->height);
    EXPECT_EQ(cv::countNonZero(mask) + cv::countNonZero(mask == 0), mask.total());
    EXPECT_EQ(cv::countNonZero(mask == 255), cv::countNonZero(mask));
    const cv::Rect box = cv::boundingRect(mask);
    EXPECT_EQ(std::max(box.width, box.height), crop->width) << r["mask_file_name"];
  }
  EXPECT_GE(crops_with_mean_corner, crops * 3 / 4);
  EXPECT_TRUE(unseen_named) << "no unseen thing captioned in 10 scenes";
}

TEST(SynthDatasetTest, UnnamedContentIsTrainOnly) {
  SynthDatasetOptions o = SmallDataset("synth_unnamed", 6, 6, 64, 96);
  o.scene.unnamed_things = 2;
  o.scene.unnamed_stuff = 0.5;
  o.scene.seen_classes_only = true;
  ASSERT_TRUE(WriteSynthDataset(o).ok());
  absl::StatusOr<CocoPanoptic> train = ReadCocoPanopticJson(o.out_dir + "/train/panoptic.json");
  absl::StatusOr<CocoPanoptic> val = ReadCocoPanopticJson(o.out_dir + "/val/panoptic.json");
  ASSERT_TRUE(train.ok() && val.ok());
  std::set<int> train_categories, val_categories;
  for (const CocoCategory& c : train->categories) train_categories.insert(c.category.id);
  for (const CocoCategory& c : val->categories) val_categories.insert(c.category.id);
  EXPECT_EQ(train_categories.count(UnnamedThingId()), 1u);
  EXPECT_EQ(train_categories.count(UnnamedStuffId()), 1u);
  EXPECT_EQ(val_categories.count(UnnamedThingId()), 0u);
  bool train_has_unnamed = false;
  for (const CocoPanopticAnnotation& a : train->annotations) {
    for (const PanopticSegment& s : a.segments) train_has_unnamed |= IsUnnamedId(s.category_id);
  }
  EXPECT_TRUE(train_has_unnamed);
  bool val_has_unseen = false;
  for (const CocoPanopticAnnotation& a : val->annotations) {
    for (const PanopticSegment& s : a.segments) {
      EXPECT_FALSE(IsUnnamedId(s.category_id));
      val_has_unseen |= !SynthVocabulary::Get().ById(s.category_id).seen;
    }
  }
  EXPECT_TRUE(val_has_unseen) << "seen_classes_only reached the val split";
}

TEST(SynthDatasetTest, SplitsFilesAndDeterminismAcrossThreads) {
  const fs::path root = fs::path(::testing::TempDir()) / "synth";
  fs::remove_all(root);
  SynthDatasetOptions o;
  o.num_train = 12;
  o.num_val = 8;
  o.seed = 9;
  o.scene.min_size = 64;
  o.scene.max_size = 96;
  for (int threads : {1, 3}) {
    o.threads = threads;
    o.out_dir = (root / ("t" + std::to_string(threads))).string();
    ASSERT_TRUE(WriteSynthDataset(o).ok());
  }
  for (const char* file : {"train/panoptic/000005.png", "val/semantic/000003.png",
                           "train/panoptic.json", "val/captions.json"}) {
    std::ifstream a(root / "t1" / file, std::ios::binary), b(root / "t3" / file, std::ios::binary);
    const std::string sa((std::istreambuf_iterator<char>(a)), {});
    const std::string sb((std::istreambuf_iterator<char>(b)), {});
    EXPECT_FALSE(sa.empty()) << file;
    EXPECT_EQ(sa, sb) << file << " differs between 1 and 3 threads";
  }
  const fs::path dir = root / "t1";
  EXPECT_TRUE(fs::exists(dir / "SPLIT.md"));
  EXPECT_TRUE(fs::exists(dir / "vocabulary.json"));
  absl::StatusOr<CocoPanoptic> train = ReadCocoPanopticJson((dir / "train/panoptic.json").string());
  absl::StatusOr<CocoPanoptic> val = ReadCocoPanopticJson((dir / "val/panoptic.json").string());
  ASSERT_TRUE(train.ok() && val.ok());
  const SynthVocabulary& v = SynthVocabulary::Get();
  EXPECT_EQ(val->categories.size(), v.classes().size());
  for (const CocoCategory& c : train->categories) EXPECT_TRUE(v.ById(c.category.id).seen);
  for (const CocoPanopticAnnotation& a : train->annotations) {
    for (const PanopticSegment& s : a.segments) EXPECT_TRUE(v.ById(s.category_id).seen);
  }
  bool val_has_unseen = false;
  for (const CocoPanopticAnnotation& a : val->annotations) {
    for (const PanopticSegment& s : a.segments) val_has_unseen |= !v.ById(s.category_id).seen;
  }
  EXPECT_TRUE(val_has_unseen);
  // Areas in the JSON agree with the PNGs, and the semantic PNG with the panoptic one.
  const CocoPanopticAnnotation& a = val->annotations[2];
  absl::StatusOr<PanopticImage> image = ReadPanopticPng((dir / "val/panoptic").string(), a);
  ASSERT_TRUE(image.ok()) << image.status();
  std::vector<PanopticSegment> recomputed = a.segments;
  ComputeAreasAndBoxes(image->width, image->height, image->ids, &recomputed);
  for (size_t i = 0; i < recomputed.size(); ++i) EXPECT_EQ(recomputed[i].area, a.segments[i].area);
  absl::StatusOr<LabelMap> semantic = ReadLabelPng((dir / "val/semantic/000003.png").string());
  ASSERT_TRUE(semantic.ok());
  for (size_t p = 0; p < image->ids.size(); ++p) {
    int expected = 255;
    for (const PanopticSegment& s : a.segments) {
      if (s.id == image->ids[p]) expected = s.category_id - 1;
    }
    ASSERT_EQ(semantic->labels[p], expected) << "pixel " << p;
  }
  // The ground truth scored against itself is perfect.
  const std::string val_dir = (dir / "val").string();
  absl::StatusOr<PanopticQuality> pq =
      EvaluatePanopticFiles({val_dir + "/panoptic.json", val_dir + "/panoptic",
                             val_dir + "/panoptic.json", val_dir + "/panoptic"},
                            2);
  ASSERT_TRUE(pq.ok()) << pq.status();
  EXPECT_NEAR(pq->Report().all.pq, 1.0, 1e-12);
}

TEST(SynthDatasetTest, BadOptionsAreNamed) {
  SynthDatasetOptions o;
  o.out_dir = ::testing::TempDir() + "/synth_bad";
  o.scene.min_size = 300;
  o.scene.max_size = 200;
  EXPECT_NE(WriteSynthDataset(o).message().find("min (300) <= max (200)"), std::string::npos);
}

}  // namespace
}  // namespace ovseg
