// TeVA's keys and values per vocabulary. The server's vocabulary cache already keeps each
// vocabulary's class embeddings; this keeps what TeVA derives from them (g_k and g_v of
// every block), so a warm vocabulary costs only the attention itself: with ADE-847 on
// ViT-B/16 the projections alone are ~16 GFLOP per image.
#ifndef OVSEG_MODEL_TEVA_TEVA_TARGET_CACHE_H_
#define OVSEG_MODEL_TEVA_TEVA_TARGET_CACHE_H_

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "model/teva/mask_classifier.h"

namespace ovseg {

class TevaTargetCache {
 public:
  struct Stats {
    int64_t hits = 0;
    int64_t misses = 0;
    int64_t evictions = 0;
    int64_t bytes = 0;
    int64_t entries = 0;
  };

  // Holds at most `max_bytes` of tensors; 0 disables caching (every Get computes).
  explicit TevaTargetCache(int64_t max_bytes) : max_bytes_(max_bytes) {}

  // The targets for `key` (one vocabulary: batch 1), from the cache or from `compute`.
  // Computed targets are kept when they fit, evicting the least recently used. The key
  // must identify the embeddings exactly (VocabularyEmbeddings::key does); the weights
  // are fixed for the cache's lifetime, which is its pipeline's.
  std::shared_ptr<const TevaTargets> Get(const std::string& key,
                                         const std::function<TevaTargets()>& compute);

  Stats stats() const;

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const TevaTargets>>;
  const int64_t max_bytes_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // Most recently used first.
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  Stats stats_;
};

// One batch's targets from one per request (each of batch 1, possibly of different
// lengths): padded to the longest with invalid rows. A batch whose requests share one
// vocabulary is expanded without copying.
std::shared_ptr<const TevaTargets> BatchTevaTargets(
    const std::vector<std::shared_ptr<const TevaTargets>>& per_request);

}  // namespace ovseg

#endif  // OVSEG_MODEL_TEVA_TEVA_TARGET_CACHE_H_
