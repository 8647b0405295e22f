// Vocabularies registered through RegisterVocabulary: id -> parsed labels, bounded by
// count with least-recently-used eviction. Embeddings live in the VocabularyCache; this
// only remembers which labels an id stands for. Thread-safe.
#ifndef OVSEG_SERVER_VOCABULARY_VOCABULARY_REGISTRY_H_
#define OVSEG_SERVER_VOCABULARY_VOCABULARY_REGISTRY_H_

#include <list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "server/vocabulary/label_set.h"

namespace ovseg {

class VocabularyRegistry {
 public:
  using Labels = std::shared_ptr<const std::vector<ParsedLabel>>;

  explicit VocabularyRegistry(size_t max_entries) : max_entries_(max_entries) {}

  // Registers `labels` and returns their id (LabelSetId: the same labels, the same id).
  std::string Register(Labels labels) {
    std::string id = LabelSetId(*labels);
    absl::MutexLock lock(&mu_);
    if (auto it = index_.find(id); it != index_.end()) {
      order_.splice(order_.begin(), order_, it->second);
      return id;
    }
    order_.push_front({id, std::move(labels)});
    index_[id] = order_.begin();
    while (order_.size() > max_entries_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
    return id;
  }

  // nullptr when the id is unknown (never registered here, or evicted).
  Labels Find(const std::string& id) {
    absl::MutexLock lock(&mu_);
    auto it = index_.find(id);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
  }

 private:
  const size_t max_entries_;
  absl::Mutex mu_;
  std::list<std::pair<std::string, Labels>> order_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::list<std::pair<std::string, Labels>>::iterator> index_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace ovseg

#endif  // OVSEG_SERVER_VOCABULARY_VOCABULARY_REGISTRY_H_
