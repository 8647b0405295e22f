// A multi-threaded sample loader: `threads` workers load (and transform) samples ahead of
// the consumer, at most `prefetch` of them (a bounded queue, so memory stays flat), and
// Next() hands them out in an order fixed by the seed alone: each epoch a permutation
// drawn from (seed, epoch), each sample's augmentation seeded by (seed, position), so the
// thread count and scheduling never change what training sees (nor, when sharded, how
// many data-parallel ranks share the sequence). A sample that fails to
// load is reported (with its file and problem) and skipped.
#ifndef OVSEG_DATASETS_DATA_LOADER_H_
#define OVSEG_DATASETS_DATA_LOADER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "datasets/dataset.h"

namespace ovseg {

struct LoaderOptions {
  int threads = 2;
  int prefetch = 8;
  uint64_t seed = 1;
  bool shuffle = true;
  int64_t epochs = 1;
  // Data-parallel sharding: the sequence is cut into blocks of `shard_block` positions (a
  // micro-batch) dealt round-robin to `shard_count` loaders, and this one yields block j
  // iff j % shard_count == shard_index. Every shard draws the same permutations and
  // augments a position the same way, so the shards together yield exactly what one
  // unsharded loader yields, micro-batch by micro-batch.
  int shard_count = 1;
  int shard_index = 0;
  int64_t shard_block = 1;
};

class DataLoader {
 public:
  using Transform = std::function<Sample(const Sample&, uint64_t seed)>;
  using Reporter = std::function<void(const absl::Status&)>;

  // `dataset` must outlive the loader. Without a reporter, bad samples go to stderr.
  DataLoader(const Dataset& dataset, LoaderOptions options, Transform transform = nullptr,
             Reporter on_bad_sample = nullptr);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // The next sample, or nullopt after the last epoch.
  std::optional<Sample> Next();
  int64_t skipped() const;

 private:
  void Work();
  size_t IndexAt(int64_t position);        // dataset index of a position in the sequence
  int64_t PositionOf(int64_t task) const;  // this shard's task-th position in the sequence

  const Dataset& dataset_;
  const LoaderOptions options_;
  const Transform transform_;
  const Reporter report_;
  const int64_t total_;  // positions this shard yields (tasks)
  mutable absl::Mutex mu_;
  int64_t next_task_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t consumed_ ABSL_GUARDED_BY(mu_) = 0;  // tasks handed out by Next()
  int64_t skipped_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::map<int64_t, absl::StatusOr<Sample>> ready_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, std::shared_ptr<const std::vector<size_t>>> permutations_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> workers_;
};

}  // namespace ovseg

#endif  // OVSEG_DATASETS_DATA_LOADER_H_
