#include "model/serving/seen_vocabulary.h"

#include "absl/strings/str_split.h"
#include "model/api/label_text.h"

namespace ovseg {

SeenVocabulary::SeenVocabulary(const std::vector<std::string>& training_vocabulary) {
  for (const std::string& label : training_vocabulary) {
    for (absl::string_view part : absl::StrSplit(label, kLabelSynonymSeparator)) {
      std::string synonym = NormaliseLabelSynonym(part);
      if (!synonym.empty()) synonyms_.insert(std::move(synonym));
    }
  }
}

bool SeenVocabulary::IsSeen(const std::string& label_key) const {
  for (absl::string_view part : absl::StrSplit(label_key, kLabelSynonymSeparator)) {
    if (synonyms_.contains(NormaliseLabelSynonym(part))) return true;
  }
  return false;
}

std::vector<bool> SeenVocabulary::Seen(const std::vector<std::string>& label_keys,
                                       int num_labels) const {
  std::vector<bool> seen(num_labels, false);
  for (int i = 0; i < num_labels && i < static_cast<int>(label_keys.size()); ++i) {
    seen[i] = IsSeen(label_keys[i]);
  }
  return seen;
}

}  // namespace ovseg
