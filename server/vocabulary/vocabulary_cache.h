// Text embeddings per label and per vocabulary, LRU-bounded in bytes (docs/design.md, "Request
// path", step 4).
//
// A label's embedding is the L2-normalised mean of the text encoder's embeddings of every
// (template, synonym) prompt. Entries are keyed by the encoder fingerprint, the template
// set and the normalised synonyms, so one cache serves every model version at once (each
// lookup names the encoder of the request's version) and a new encoder never gets stale
// embeddings; a swap retires the old encoder's entries. Thread-safe. Misses are encoded
// outside the lock, on the caller's thread; two concurrent misses of one label may both
// encode it (same result, rare).
#ifndef OVSEG_SERVER_VOCABULARY_VOCABULARY_CACHE_H_
#define OVSEG_SERVER_VOCABULARY_VOCABULARY_CACHE_H_

#include <atomic>
#include <cstddef>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "model/api/segmentation_pipeline.h"
#include "model/api/text_encoder.h"
#include "server/vocabulary/label_set.h"

namespace ovseg {

struct VocabularyCacheOptions {
  size_t max_bytes = size_t{256} << 20;
  std::vector<std::string> prompt_templates = {"a photo of a {}."};
  int text_encoder_batch_size = 256;
};

struct VocabularyCacheStats {
  uint64_t hits = 0;    // label or vocabulary lookups answered from the cache
  uint64_t misses = 0;  // label lookups that needed the encoder
  uint64_t evictions = 0;
  size_t bytes = 0;
  size_t entries = 0;
};

class VocabularyCache {
 public:
  explicit VocabularyCache(const VocabularyCacheOptions& options);

  // The stacked [labels x dim] matrix for `labels`, in order, as `encoder` embeds them;
  // labels not cached are encoded now (slow for a large cold vocabulary).
  absl::StatusOr<std::shared_ptr<const VocabularyEmbeddings>> Get(
      const std::vector<ParsedLabel>& labels, TextEncoder& encoder);
  // The same when every label is cached; nullptr (and nothing encoded) otherwise.
  std::shared_ptr<const VocabularyEmbeddings> Find(const std::vector<ParsedLabel>& labels,
                                                   TextEncoder& encoder);

  // Drops the entries of every encoder but the one with `fingerprint` (counted as
  // evictions): after a swap they would only hold the byte budget until the LRU reached
  // them. Requests still finishing on the old version re-encode what they need.
  void RetainOnly(const std::string& fingerprint);

  VocabularyCacheStats Stats() const;

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const void> value;  // vector<float> (label) or VocabularyEmbeddings
    size_t bytes = 0;
  };

  std::shared_ptr<const void> LookupLocked(const std::string& key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void InsertLocked(const std::string& key, std::shared_ptr<const void> value, size_t bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Get (may_encode) and Find (not): nullptr only when !may_encode and a label is missing.
  absl::StatusOr<std::shared_ptr<const VocabularyEmbeddings>> Lookup(
      const std::vector<ParsedLabel>& labels, TextEncoder& encoder, bool may_encode);
  // Encodes the labels' prompts and returns one normalised embedding per label.
  absl::StatusOr<std::vector<std::vector<float>>> EncodeLabels(
      TextEncoder& encoder, const std::vector<const ParsedLabel*>& labels) const;

  const VocabularyCacheOptions options_;
  const std::string template_key_;
  mutable absl::Mutex mu_;
  std::list<Entry> lru_ ABSL_GUARDED_BY(mu_);  // front = most recently used
  absl::flat_hash_map<std::string, std::list<Entry>::iterator> index_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<uint64_t> hits_{0}, misses_{0}, evictions_{0};
};

}  // namespace ovseg

#endif  // OVSEG_SERVER_VOCABULARY_VOCABULARY_CACHE_H_
