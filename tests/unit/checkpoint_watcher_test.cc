// The watched directory (server/checkpoint/checkpoint_watcher.h) with a real store and a
// fake activation: marker order, the first scan's catch-up, and a restart over a kept
// store (the shared-directory design of docs/deploy.md).
#include "server/checkpoint/checkpoint_watcher.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace ovseg {
namespace {

namespace fs = std::filesystem;

// A valid safetensors file with one float `x` = `value` (distinct bytes per value).
std::string Safetensors(float value) {
  const std::string header = R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(&value), sizeof(value));
  return bytes;
}

class WatchedDirectory {
 public:
  explicit WatchedDirectory(const std::string& name)
      : root_(::testing::TempDir() + "/watcher-" + name) {
    fs::remove_all(root_);
    fs::create_directories(root_ + "/incoming");
  }
  // Writes NAME and its marker; markers written later are newer (mtimes set explicitly).
  void Drop(const std::string& name, float value, int marker_second) {
    std::ofstream(root_ + "/incoming/" + name, std::ios::binary) << Safetensors(value);
    const std::string marker = root_ + "/incoming/" + name + kCheckpointDoneSuffix;
    std::ofstream(marker) << "";
    fs::last_write_time(marker, fs::file_time_type() + std::chrono::hours(24 * 365 * 50) +
                                    std::chrono::seconds(marker_second));
  }
  // One replica: its own store under `store`, the shared directory; `refuse` fails
  // activations of that name (a checkpoint that does not load).
  struct Replica {
    std::unique_ptr<CheckpointStore> store;
    std::unique_ptr<CheckpointWatcher> watcher;
    std::vector<std::string> activated;
    std::vector<std::pair<std::string, bool>> reports;
  };
  std::unique_ptr<Replica> Start(const std::string& store, const std::string& refuse = "") {
    auto r = std::make_unique<Replica>();
    CheckpointStoreOptions store_options;
    store_options.directory = root_ + "/" + store;
    auto created = CheckpointStore::Create(store_options);
    EXPECT_TRUE(created.ok()) << created.status();
    r->store = *std::move(created);
    CheckpointWatcherOptions o;
    o.directory = root_ + "/incoming";
    o.interval = absl::InfiniteDuration();
    Replica* raw = r.get();
    o.activate = [raw, refuse](const std::string& name,
                               const std::string&) -> absl::StatusOr<std::string> {
      if (name == refuse) return absl::InvalidArgumentError("does not load");
      raw->activated.push_back(name);
      return "version-of-" + name;
    };
    o.report = [raw](const std::string& name, const absl::Status& s) {
      raw->reports.push_back({name, s.ok()});
    };
    auto watcher = CheckpointWatcher::Create(std::move(o), r->store.get());
    EXPECT_TRUE(watcher.ok()) << watcher.status();
    r->watcher = *std::move(watcher);
    return r;
  }

 private:
  std::string root_;
};

TEST(CheckpointWatcherTest, ActivatesInMarkerOrderSoTheNewestMarkedEndsActive) {
  WatchedDirectory dir("order");
  auto replica = dir.Start("store");
  EXPECT_EQ(replica->watcher->ScanOnce(), 0);  // nothing yet: the catch-up is done
  dir.Drop("z-first.safetensors", 1, 10);
  dir.Drop("a-second.safetensors", 2, 20);  // newer marker, earlier name
  EXPECT_EQ(replica->watcher->ScanOnce(), 2);
  EXPECT_EQ(replica->activated,
            (std::vector<std::string>{"z-first.safetensors", "a-second.safetensors"}));
  // Touching an older marker again is a rollback: it activates once more.
  dir.Drop("z-first.safetensors", 1, 30);
  EXPECT_EQ(replica->watcher->ScanOnce(), 1);
  EXPECT_EQ(replica->activated.back(), "z-first.safetensors");
  EXPECT_EQ(replica->watcher->ScanOnce(), 0);
}

TEST(CheckpointWatcherTest, ANewReplicaCatchesUpOnTheNewestThatLoadsWithoutReplaying) {
  WatchedDirectory dir("catch-up");
  dir.Drop("a.safetensors", 1, 10);
  dir.Drop("b.safetensors", 2, 20);
  dir.Drop("broken.safetensors", 3, 30);  // newest, but does not load
  auto replica = dir.Start("store", /*refuse=*/"broken.safetensors");
  EXPECT_EQ(replica->watcher->ScanOnce(), 2);  // broken (failed), then b; a is history
  EXPECT_EQ(replica->activated, (std::vector<std::string>{"b.safetensors"}));
  EXPECT_EQ(replica->watcher->ScanOnce(), 0);  // nothing is replayed later either
}

TEST(CheckpointWatcherTest, ARestartOverAKeptStoreActivatesTheStoredCopy) {
  WatchedDirectory dir("restart");
  dir.Drop("a.safetensors", 1, 10);
  auto first = dir.Start("store");
  EXPECT_EQ(first->watcher->ScanOnce(), 1);
  first.reset();
  auto restarted = dir.Start("store");  // the same store: a.safetensors is kept
  EXPECT_EQ(restarted->watcher->ScanOnce(), 1);
  EXPECT_EQ(restarted->reports,
            (std::vector<std::pair<std::string, bool>>{{"a.safetensors", true}}));
  EXPECT_EQ(restarted->activated, (std::vector<std::string>{"a.safetensors"}));
}

}  // namespace
}  // namespace ovseg
