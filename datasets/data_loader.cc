#include "datasets/data_loader.h"

#include <algorithm>
#include <iostream>
#include <numeric>

#include "datasets/seed_mixing.h"

namespace ovseg {
namespace {

constexpr uint64_t kPermutationStream = 0x5045524D;   // "PERM"
constexpr uint64_t kAugmentationStream = 0x41554730;  // "AUG0"

// `o` with a shard count and block of at least 1 (unset means unsharded).
LoaderOptions WithValidShards(LoaderOptions o) {
  o.shard_count = std::max(1, o.shard_count);
  o.shard_block = std::max<int64_t>(1, o.shard_block);
  return o;
}

// How many of the sequence's `total` positions a shard yields: its whole blocks, plus the
// cut-off last block when that one is its own.
int64_t ShardSize(int64_t total, const LoaderOptions& o) {
  const int64_t whole = total / o.shard_block, rest = total % o.shard_block;
  const int64_t blocks =
      whole > o.shard_index ? (whole - o.shard_index + o.shard_count - 1) / o.shard_count : 0;
  const bool owns_rest = rest > 0 && whole % o.shard_count == o.shard_index;
  return blocks * o.shard_block + (owns_rest ? rest : 0);
}

}  // namespace

DataLoader::DataLoader(const Dataset& dataset, LoaderOptions options, Transform transform,
                       Reporter on_bad_sample)
    : dataset_(dataset),
      options_(WithValidShards(options)),
      transform_(std::move(transform)),
      report_(on_bad_sample ? std::move(on_bad_sample) : Reporter([](const absl::Status& s) {
        std::cerr << "data: skipping a bad sample: " << s.message() << "\n";
      })),
      total_(ShardSize(static_cast<int64_t>(dataset.size()) * std::max<int64_t>(0, options.epochs),
                       options_)) {
  for (int t = 0; t < std::max(1, options_.threads); ++t) workers_.emplace_back([this] { Work(); });
}

DataLoader::~DataLoader() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : workers_) t.join();
}

int64_t DataLoader::skipped() const {
  absl::MutexLock lock(&mu_);
  return skipped_;
}

int64_t DataLoader::PositionOf(int64_t task) const {
  const int64_t block = options_.shard_block;
  return ((task / block) * options_.shard_count + options_.shard_index) * block + task % block;
}

size_t DataLoader::IndexAt(int64_t position) {
  const int64_t n = static_cast<int64_t>(dataset_.size());
  const int64_t epoch = position / n;
  if (!options_.shuffle) return static_cast<size_t>(position % n);
  std::shared_ptr<const std::vector<size_t>> order;
  {
    absl::MutexLock lock(&mu_);
    auto it = permutations_.find(epoch);
    if (it != permutations_.end()) order = it->second;
  }
  if (order == nullptr) {
    auto made = std::make_shared<std::vector<size_t>>(static_cast<size_t>(n));
    std::iota(made->begin(), made->end(), size_t{0});
    uint64_t state = MixSeed(options_.seed ^ kPermutationStream, static_cast<uint64_t>(epoch));
    for (size_t i = made->size() - 1; i > 0; --i) {  // Fisher-Yates on SplitMix64
      state = MixSeed(state, i);
      std::swap((*made)[i], (*made)[state % (i + 1)]);
    }
    absl::MutexLock lock(&mu_);
    order = permutations_.emplace(epoch, std::move(made)).first->second;
    // Epochs the consumer has left behind are not needed again.
    while (!permutations_.empty() && permutations_.begin()->first < PositionOf(consumed_) / n) {
      permutations_.erase(permutations_.begin());
    }
  }
  return (*order)[static_cast<size_t>(position % n)];
}

void DataLoader::Work() {
  while (true) {
    int64_t task;
    {
      absl::MutexLock lock(&mu_);
      auto can_take = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || next_task_ >= total_ || next_task_ < consumed_ + options_.prefetch;
      };
      mu_.Await(absl::Condition(&can_take));
      if (stopping_ || next_task_ >= total_) return;
      task = next_task_++;
    }
    const int64_t position = PositionOf(task);
    absl::StatusOr<Sample> sample = dataset_.Load(IndexAt(position));
    if (sample.ok() && transform_) {
      *sample = transform_(
          *sample, MixSeed(options_.seed ^ kAugmentationStream, static_cast<uint64_t>(position)));
    }
    absl::MutexLock lock(&mu_);
    ready_.emplace(task, std::move(sample));
  }
}

std::optional<Sample> DataLoader::Next() {
  while (true) {
    absl::StatusOr<Sample> sample;
    {
      absl::MutexLock lock(&mu_);
      if (consumed_ >= total_) return std::nullopt;
      auto has_next = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return ready_.count(consumed_) > 0;
      };
      mu_.Await(absl::Condition(&has_next));
      auto it = ready_.find(consumed_);
      sample = std::move(it->second);
      ready_.erase(it);
      ++consumed_;
      if (!sample.ok()) ++skipped_;
    }
    if (sample.ok()) return *std::move(sample);
    report_(sample.status());
  }
}

}  // namespace ovseg
