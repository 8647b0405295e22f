#include "server/vocabulary/vocabulary_cache.h"

#include <cmath>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/sha256.h"
#include "model/clip/prompt_templates.h"

namespace ovseg {
namespace {

// Rough per-entry bookkeeping cost (list node, hash slot, shared_ptr control block).
constexpr size_t kEntryOverheadBytes = 128;

}  // namespace

VocabularyCache::VocabularyCache(const VocabularyCacheOptions& options)
    : options_(options),
      template_key_(Sha256Hex(absl::StrJoin(options.prompt_templates, "\x1e")).substr(0, 16)) {}

void VocabularyCache::RetainOnly(const std::string& fingerprint) {
  absl::MutexLock lock(&mu_);
  const std::string prefix = absl::StrCat(fingerprint, "|");
  for (auto it = lru_.begin(); it != lru_.end();) {
    if (absl::StartsWith(it->key, prefix)) {
      ++it;
      continue;
    }
    bytes_ -= it->bytes;
    index_.erase(it->key);
    it = lru_.erase(it);
    evictions_.fetch_add(1);
  }
}

VocabularyCacheStats VocabularyCache::Stats() const {
  VocabularyCacheStats stats;
  stats.hits = hits_.load();
  stats.misses = misses_.load();
  stats.evictions = evictions_.load();
  absl::MutexLock lock(&mu_);
  stats.bytes = bytes_;
  stats.entries = lru_.size();
  return stats;
}

std::shared_ptr<const void> VocabularyCache::LookupLocked(const std::string& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->value;
}

void VocabularyCache::InsertLocked(const std::string& key, std::shared_ptr<const void> value,
                                   size_t bytes) {
  bytes += key.size() + kEntryOverheadBytes;
  if (bytes > options_.max_bytes) return;  // Larger than the whole budget: serve uncached.
  if (auto it = index_.find(key); it != index_.end()) {
    bytes_ -= it->second->bytes;
    lru_.erase(it->second);
    index_.erase(it);
  }
  lru_.push_front(Entry{key, std::move(value), bytes});
  index_[key] = lru_.begin();
  bytes_ += bytes;
  while (bytes_ > options_.max_bytes) {
    Entry& victim = lru_.back();
    bytes_ -= victim.bytes;
    index_.erase(victim.key);
    lru_.pop_back();
    evictions_.fetch_add(1);
  }
}

absl::StatusOr<std::vector<std::vector<float>>> VocabularyCache::EncodeLabels(
    TextEncoder& encoder, const std::vector<const ParsedLabel*>& labels) const {
  // One prompt per (label, synonym, template), encoded in bounded batches.
  std::vector<std::string> prompts;
  std::vector<size_t> owner;  // prompt -> label position
  for (size_t i = 0; i < labels.size(); ++i) {
    for (const std::string& synonym : labels[i]->synonyms) {
      for (const std::string& tmpl : options_.prompt_templates) {
        prompts.push_back(FillTemplate(tmpl, synonym));
        owner.push_back(i);
      }
    }
  }
  const int dim = encoder.EmbeddingDim();
  PromptEnsemble ensemble(labels.size(), dim);
  const size_t step = std::max(1, options_.text_encoder_batch_size);
  for (size_t begin = 0; begin < prompts.size(); begin += step) {
    const size_t count = std::min(step, prompts.size() - begin);
    absl::StatusOr<std::vector<float>> out =
        encoder.Encode(absl::MakeConstSpan(prompts.data() + begin, count));
    if (!out.ok()) return out.status();
    if (out->size() != count * dim) {
      return absl::InternalError(absl::StrCat("text encoder returned ", out->size(), " floats for ",
                                              count, " prompts of dim ", dim));
    }
    for (size_t p = 0; p < count; ++p) ensemble.Add(owner[begin + p], out->data() + p * dim);
  }
  return std::move(ensemble).Finish();
}

absl::StatusOr<std::shared_ptr<const VocabularyEmbeddings>> VocabularyCache::Get(
    const std::vector<ParsedLabel>& labels, TextEncoder& encoder) {
  return Lookup(labels, encoder, /*may_encode=*/true);
}

std::shared_ptr<const VocabularyEmbeddings> VocabularyCache::Find(
    const std::vector<ParsedLabel>& labels, TextEncoder& encoder) {
  absl::StatusOr<std::shared_ptr<const VocabularyEmbeddings>> found =
      Lookup(labels, encoder, /*may_encode=*/false);
  return found.ok() ? *std::move(found) : nullptr;
}

absl::StatusOr<std::shared_ptr<const VocabularyEmbeddings>> VocabularyCache::Lookup(
    const std::vector<ParsedLabel>& labels, TextEncoder& encoder, bool may_encode) {
  const std::string prefix = absl::StrCat(encoder.Fingerprint(), "|", template_key_, "|");
  std::vector<std::string> label_keys;
  label_keys.reserve(labels.size());
  for (const ParsedLabel& label : labels) label_keys.push_back(absl::StrCat(prefix, label.key));
  // The vocabulary key hashes the label list so that long vocabularies keep short keys.
  const std::string vocab_key =
      absl::StrCat(prefix, "vocab:", Sha256Hex(absl::StrJoin(label_keys, "\x1e")));

  const int dim = encoder.EmbeddingDim();
  std::vector<std::shared_ptr<const std::vector<float>>> rows(labels.size());
  std::vector<const ParsedLabel*> missing;
  std::vector<size_t> missing_pos;
  {
    absl::MutexLock lock(&mu_);
    if (auto hit = LookupLocked(vocab_key)) {
      hits_.fetch_add(1);
      return std::static_pointer_cast<const VocabularyEmbeddings>(hit);
    }
    for (size_t i = 0; i < labels.size(); ++i) {
      if (auto hit = LookupLocked(label_keys[i])) {
        rows[i] = std::static_pointer_cast<const std::vector<float>>(hit);
      } else {
        missing.push_back(&labels[i]);
        missing_pos.push_back(i);
      }
    }
  }
  // Find stops here, uncounted: the Get that follows it counts this lookup.
  if (!missing.empty() && !may_encode) return nullptr;
  hits_.fetch_add(labels.size() - missing.size());
  if (!missing.empty()) {
    misses_.fetch_add(missing.size());
    absl::StatusOr<std::vector<std::vector<float>>> encoded = EncodeLabels(encoder, missing);
    if (!encoded.ok()) return encoded.status();
    absl::MutexLock lock(&mu_);
    for (size_t m = 0; m < missing.size(); ++m) {
      auto row = std::make_shared<const std::vector<float>>(std::move((*encoded)[m]));
      rows[missing_pos[m]] = row;
      InsertLocked(label_keys[missing_pos[m]], row, dim * sizeof(float));
    }
  }
  auto vocab = std::make_shared<VocabularyEmbeddings>();
  vocab->num_labels = static_cast<int>(labels.size());
  vocab->dim = dim;
  vocab->key = vocab_key;
  vocab->data.reserve(labels.size() * dim);
  for (const auto& row : rows) vocab->data.insert(vocab->data.end(), row->begin(), row->end());
  absl::MutexLock lock(&mu_);
  InsertLocked(vocab_key, vocab, vocab->data.size() * sizeof(float));
  return std::shared_ptr<const VocabularyEmbeddings>(std::move(vocab));
}

}  // namespace ovseg
