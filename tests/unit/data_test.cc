// Datasets, augmentation and the loader: samples checked fully on load (a bad one is
// reported by file and skipped), masks that follow the image through every transform,
// and a loader whose output depends on the seed only, never on threads or timing.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "datasets/augmentation.h"
#include "datasets/caption_dataset.h"
#include "datasets/data_loader.h"
#include "datasets/label_png.h"
#include "datasets/synth/synth_dataset.h"

namespace ovseg {
namespace {

namespace fs = std::filesystem;

std::string TinyWorld(const std::string& name, int train, int val, int caption_negatives = 0) {
  const std::string dir = ::testing::TempDir() + "/" + name;
  fs::remove_all(dir);
  SynthDatasetOptions o;
  o.out_dir = dir;
  o.num_train = train;
  o.num_val = val;
  o.scene.min_size = 64;
  o.scene.max_size = 96;
  o.scene.caption_negatives = caption_negatives;
  EXPECT_TRUE(WriteSynthDataset(o).ok());
  return dir;
}

std::unique_ptr<Dataset> OpenVal(const std::string& dir) {
  absl::StatusOr<std::unique_ptr<Dataset>> d = OpenCocoPanopticDataset(
      dir + "/val/panoptic.json", dir + "/val/images", dir + "/val/panoptic");
  EXPECT_TRUE(d.ok()) << d.status();
  return *std::move(d);
}

uint64_t Checksum(const Sample& s) {
  uint64_t h = 1469598103934665603ull;
  for (uint8_t b : s.rgb) h = (h ^ b) * 1099511628211ull;
  for (uint32_t id : s.ids) h = (h ^ id) * 1099511628211ull;
  return h;
}

TEST(DatasetTest, BadSamplesAreReportedByFileAndSkipped) {
  const std::string dir = TinyWorld("data_bad", 0, 6);
  // Sample 2: its image is not an image. Sample 4: the JSON forgets a segment the PNG has.
  std::ofstream(dir + "/val/images/000002.jpg") << "garbage";
  nlohmann::json j;
  std::ifstream(dir + "/val/panoptic.json") >> j;
  for (auto& a : j["annotations"]) {
    if (a["image_id"] == 4) a["segments_info"].erase(a["segments_info"].begin());
  }
  std::ofstream(dir + "/val/panoptic.json") << j.dump();
  std::unique_ptr<Dataset> d = OpenVal(dir);
  std::vector<std::string> reports;
  LoaderOptions o;
  o.shuffle = false;
  DataLoader loader(*d, o, nullptr,
                    [&](const absl::Status& s) { reports.push_back(std::string(s.message())); });
  std::vector<std::string> names;
  while (std::optional<Sample> s = loader.Next()) names.push_back(s->name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"000001.jpg", "000003.jpg", "000005.jpg", "000006.jpg"}));
  EXPECT_EQ(loader.skipped(), 2);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_NE(reports[0].find("000002.jpg: not a readable image"), std::string::npos) << reports[0];
  EXPECT_NE(reports[1].find("000004.png: segment id"), std::string::npos) << reports[1];
  EXPECT_NE(reports[1].find("not in the JSON"), std::string::npos) << reports[1];
}

TEST(DatasetTest, SemanticLabelsOutsideTheClassesAreNamed) {
  const std::string dir = TinyWorld("data_semantic", 0, 2);
  absl::StatusOr<std::unique_ptr<Dataset>> ok =
      OpenSemanticDataset(dir + "/val/images", dir + "/val/semantic", 134);
  ASSERT_TRUE(ok.ok()) << ok.status();
  absl::StatusOr<Sample> s = (*ok)->Load(0);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->labels.size(), static_cast<size_t>(s->width) * s->height);
  absl::StatusOr<std::unique_ptr<Dataset>> few =
      OpenSemanticDataset(dir + "/val/images", dir + "/val/semantic", 3);
  ASSERT_TRUE(few.ok());
  bool named = false;
  for (size_t i = 0; i < (*few)->size(); ++i) {
    const absl::Status status = (*few)->Load(i).status();
    named |= status.message().find("is neither a class (0..2) nor ignore 255") != std::string::npos;
  }
  EXPECT_TRUE(named);
}

// Every sample `o` yields, by name and content, after large-scale jitter to 64 px.
std::vector<std::pair<std::string, uint64_t>> JitteredSequence(const Dataset& d,
                                                               const LoaderOptions& o) {
  JitterOptions jitter;
  jitter.crop = 64;
  DataLoader loader(d, o, [&](const Sample& s, uint64_t aug_seed) {
    return LargeScaleJitter(s, jitter, aug_seed);
  });
  std::vector<std::pair<std::string, uint64_t>> seen;
  while (std::optional<Sample> s = loader.Next()) seen.push_back({s->name, Checksum(*s)});
  return seen;
}

TEST(DataLoaderTest, OrderAndAugmentationDependOnTheSeedOnly) {
  const std::string dir = TinyWorld("data_order", 0, 10);
  std::unique_ptr<Dataset> d = OpenVal(dir);
  auto run = [&](int threads, uint64_t seed) {
    LoaderOptions o;
    o.threads = threads;
    o.seed = seed;
    o.epochs = 2;
    o.prefetch = 3;
    return JitteredSequence(*d, o);
  };
  const auto one = run(1, 5), three = run(3, 5), other = run(3, 6);
  ASSERT_EQ(one.size(), 20u);
  EXPECT_EQ(one, three);
  EXPECT_NE(one, other);
  // Each epoch visits every sample once, in a different order.
  std::set<std::string> first_epoch, second_epoch;
  for (int i = 0; i < 10; ++i) {
    first_epoch.insert(one[i].first);
    second_epoch.insert(one[10 + i].first);
  }
  EXPECT_EQ(first_epoch.size(), 10u);
  EXPECT_EQ(second_epoch, first_epoch);
  bool reordered = false;
  for (int i = 0; i < 10; ++i) reordered |= one[i].first != one[10 + i].first;
  EXPECT_TRUE(reordered);
}

// Three shards dealt micro-batches of 2 from a 10-sample, 2-epoch sequence: interleaved
// block by block, they are exactly the unsharded sequence, augmentation included, and the
// cut-off last block goes to its own shard.
TEST(DataLoaderTest, ShardsDealMicroBatchesOfTheOneSequence) {
  const std::string dir = TinyWorld("data_shards", 0, 10);
  std::unique_ptr<Dataset> d = OpenVal(dir);
  auto run = [&](int count, int index) {
    LoaderOptions o;
    o.seed = 9;
    o.epochs = 2;
    o.shard_count = count;
    o.shard_index = index;
    o.shard_block = 2;
    return JitteredSequence(*d, o);
  };
  const auto whole = run(1, 0);
  ASSERT_EQ(whole.size(), 20u);
  std::vector<std::vector<std::pair<std::string, uint64_t>>> shards = {run(3, 0), run(3, 1),
                                                                       run(3, 2)};
  // 10 blocks of 2: shard 0 gets blocks 0, 3, 6, 9; shard 1 gets 1, 4, 7; shard 2 gets 2, 5, 8.
  EXPECT_EQ(shards[0].size(), 8u);
  EXPECT_EQ(shards[1].size(), 6u);
  EXPECT_EQ(shards[2].size(), 6u);
  std::vector<std::pair<std::string, uint64_t>> interleaved;
  for (size_t block = 0; block < 10; ++block) {
    const auto& shard = shards[block % 3];
    const size_t at = (block / 3) * 2;
    interleaved.insert(interleaved.end(), shard.begin() + at, shard.begin() + at + 2);
  }
  EXPECT_EQ(interleaved, whole);

  // 20 positions in blocks of 3: 6 whole blocks and a last one of 2, which is shard 0's.
  auto count = [&](int index) {
    LoaderOptions o;
    o.epochs = 2;
    o.shard_count = 3;
    o.shard_index = index;
    o.shard_block = 3;
    DataLoader loader(*d, o);
    int n = 0;
    while (loader.Next()) ++n;
    return n;
  };
  EXPECT_EQ(count(0), 8);  // blocks 0, 3 and the 2 of block 6
  EXPECT_EQ(count(1), 6);
  EXPECT_EQ(count(2), 6);
}

// Counts loads; lets a test see how far ahead the workers run.
class CountingDataset : public Dataset {
 public:
  size_t size() const override { return 100; }
  absl::StatusOr<Sample> Load(size_t index) const override {
    ++loads_;
    Sample s;
    s.name = std::to_string(index);
    return s;
  }
  mutable std::atomic<int> loads_{0};
};

TEST(DataLoaderTest, PrefetchIsBounded) {
  CountingDataset d;
  LoaderOptions o;
  o.threads = 4;
  o.prefetch = 5;
  DataLoader loader(d, o);
  // Wait until the workers have filled the queue, then give them time to overrun it.
  auto settle = [&](int target) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (d.loads_.load() < target && absl::Now() < deadline)
      absl::SleepFor(absl::Milliseconds(5));
    absl::SleepFor(absl::Milliseconds(50));
  };
  settle(5);
  EXPECT_EQ(d.loads_.load(), 5);  // no more than the queue holds
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(loader.Next().has_value());
  settle(15);
  EXPECT_EQ(d.loads_.load(), 15);
}

// An image whose colour encodes its segment id: wherever a pixel's neighbourhood is a
// single segment, its colour must still be that segment's after any transform. (Bilinear
// blends colours across a boundary over about one source pixel, up to 3.2 pixels here
// after upscaling; nearest-neighbour ids switch inside that band: radius 4 clears it.)
Sample Coded() {
  Sample s;
  s.name = "coded";
  s.width = 40;
  s.height = 30;
  for (int y = 0; y < s.height; ++y) {
    for (int x = 0; x < s.width; ++x) {
      const uint32_t id = x < 15 ? 1 : (y < 12 ? 2 : 3);
      s.ids.push_back(id);
      s.rgb.insert(s.rgb.end(),
                   {static_cast<uint8_t>(id * 60), 10, static_cast<uint8_t>(250 - id * 60)});
    }
  }
  s.segments = {{1, 1}, {2, 2}, {3, 3}};
  ComputeAreasAndBoxes(s.width, s.height, s.ids, &s.segments);
  return s;
}

void ExpectMasksFollowImage(const Sample& s) {
  constexpr int kRadius = 4;
  int checked = 0;
  for (int y = kRadius; y + kRadius < s.height; ++y) {
    for (int x = kRadius; x + kRadius < s.width; ++x) {
      const uint32_t id = s.ids[y * s.width + x];
      bool uniform = true;
      for (int dy = -kRadius; dy <= kRadius; ++dy) {
        for (int dx = -kRadius; dx <= kRadius; ++dx) {
          uniform &= s.ids[(y + dy) * s.width + x + dx] == id;
        }
      }
      if (!uniform) continue;
      const uint8_t* p = &s.rgb[(y * s.width + x) * 3];
      if (id == 0) {
        ASSERT_EQ(p[0], 128) << "padding at " << x << "," << y;
      } else {
        ASSERT_EQ(p[0], id * 60) << "segment " << id << " at " << x << "," << y;
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, s.width * s.height / 5);
}

TEST(AugmentationTest, MasksFollowTheImageExactly) {
  const Sample s = Coded();
  JitterOptions o;
  o.crop = 48;
  bool padded = false, cropped = false;
  for (uint64_t seed = 1; seed < 40; ++seed) {
    const Sample j = LargeScaleJitter(s, o, seed);
    ASSERT_EQ(j.width, 48);
    ASSERT_EQ(j.height, 48);
    ExpectMasksFollowImage(j);
    for (const PanopticSegment& seg : j.segments) EXPECT_GT(seg.area, 0);
    padded |= std::count(j.ids.begin(), j.ids.end(), 0u) > 0;
    cropped |= j.segments.size() < 3;
  }
  EXPECT_TRUE(padded);   // small scales pad
  EXPECT_TRUE(cropped);  // large scales crop segments away
  const Sample f = HorizontalFlip(s);
  EXPECT_EQ(f.ids[0], s.ids[s.width - 1]);
  EXPECT_EQ(f.segments[0].bbox[0], s.width - 15);  // segment 1 moved to the right
  ExpectMasksFollowImage(f);
  const Sample r = ResizeShorterSide(s, 60);
  EXPECT_EQ(r.height, 60);
  EXPECT_EQ(r.width, 80);
  ExpectMasksFollowImage(r);
  EXPECT_EQ(ResizeShorterSide(s, 60, 70).width, 70);
}

TEST(CaptionDatasetTest, ReadsOvsegSynthCaptionsAndNamesBadRecords) {
  const std::string dir = TinyWorld("captions", 3, 0, /*caption_negatives=*/2);
  absl::StatusOr<std::unique_ptr<Dataset>> d =
      OpenCaptionDataset(dir + "/train/captions.json", dir + "/train/images");
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ((*d)->size(), 3u);
  absl::StatusOr<Sample> s = (*d)->Load(1);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->caption.empty());
  ASSERT_EQ(s->negative_captions.size(), 2u);
  EXPECT_NE(s->negative_captions[0], s->caption);
  EXPECT_EQ(s->rgb.size(), static_cast<size_t>(s->width * s->height * 3));
  std::ofstream(dir + "/bad_negatives.json")
      << R"([{"file_name": "000001.jpg", "caption": "grass", "negatives": ["sand", 3]}])";
  EXPECT_NE(OpenCaptionDataset(dir + "/bad_negatives.json", dir + "/train/images")
                .status()
                .message()
                .find("record 0: \"negatives\" is not a list of non-empty strings"),
            std::string::npos);

  std::ofstream(dir + "/bad.json") << R"([{"file_name": "000001.jpg", "caption": "grass"},
                                        {"file_name": "000002.jpg"}])";
  absl::StatusOr<std::unique_ptr<Dataset>> bad =
      OpenCaptionDataset(dir + "/bad.json", dir + "/train/images");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("record 1 has no non-empty string \"caption\""),
            std::string::npos)
      << bad.status();
  std::ofstream(dir + "/object.json") << R"({"file_name": "000001.jpg"})";
  EXPECT_FALSE(OpenCaptionDataset(dir + "/object.json", dir + "/train/images").ok());
  EXPECT_EQ(OpenCaptionDataset(dir + "/missing.json", dir + "/train/images").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(OpenCaptionDataset(dir + "/train/captions.json", dir + "/nowhere").status().code(),
            absl::StatusCode::kNotFound);
  // A record whose image is missing fails on load, naming the file.
  std::ofstream(dir + "/gone.json") << R"([{"file_name": "gone.jpg", "caption": "sky"}])";
  absl::StatusOr<std::unique_ptr<Dataset>> gone =
      OpenCaptionDataset(dir + "/gone.json", dir + "/train/images");
  ASSERT_TRUE(gone.ok());
  absl::StatusOr<Sample> missing = (*gone)->Load(0);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("gone.jpg"), std::string::npos) << missing.status();
}

}  // namespace
}  // namespace ovseg
