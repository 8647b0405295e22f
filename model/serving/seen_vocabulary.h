// Which of a request's classes the trained parts saw in training (the checkpoint's
// training_vocabulary): FUSED mode trusts the dense head less on those (FC-CLIP's seen and
// unseen ensemble weights). A class counts as seen when any of its synonyms is any
// synonym of a training label, both normalised alike (model/api/label_text.h).
#ifndef OVSEG_MODEL_SERVING_SEEN_VOCABULARY_H_
#define OVSEG_MODEL_SERVING_SEEN_VOCABULARY_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"

namespace ovseg {

class SeenVocabulary {
 public:
  SeenVocabulary() = default;  // Nothing seen.
  explicit SeenVocabulary(const std::vector<std::string>& training_vocabulary);

  // label_key: normalised synonyms joined by kLabelSynonymSeparator (PipelineRequest).
  bool IsSeen(const std::string& label_key) const;
  // Per label of a request; labels beyond label_keys (none given) are unseen.
  std::vector<bool> Seen(const std::vector<std::string>& label_keys, int num_labels) const;
  size_t size() const { return synonyms_.size(); }

 private:
  absl::flat_hash_set<std::string> synonyms_;
};

}  // namespace ovseg

#endif  // OVSEG_MODEL_SERVING_SEEN_VOCABULARY_H_
