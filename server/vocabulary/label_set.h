// Parsing and validation of a request's labels: limits, UTF-8, synonyms, normalisation.
#ifndef OVSEG_SERVER_VOCABULARY_LABEL_SET_H_
#define OVSEG_SERVER_VOCABULARY_LABEL_SET_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ovseg/v1/segmentation.pb.h"

namespace ovseg {

struct LabelLimits {
  int max_labels = 2048;
  int max_label_bytes = 256;
};

struct ParsedLabel {
  std::string display_name;           // First synonym as the client wrote it (trimmed).
  std::vector<std::string> synonyms;  // Normalised: trimmed, single spaces, ASCII lowercase.
  bool is_thing = true;
  // Canonical text of the synonyms ("fire hydrant,hydrant"); keys the embedding cache.
  std::string key;
};

// Validates and parses labels. Errors are INVALID_ARGUMENT naming the field, the limit and
// the value, e.g. "labels[3]: 300 bytes exceed limits.max_label_bytes = 256".
absl::StatusOr<std::vector<ParsedLabel>> ParseLabels(
    const google::protobuf::RepeatedPtrField<v1::Label>& labels, const LabelLimits& limits);

// True when `text` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool IsValidUtf8(const std::string& text);

// Stable id of a label set (sha256 of the canonical keys and thing flags, 32 hex digits).
std::string LabelSetId(const std::vector<ParsedLabel>& labels);

}  // namespace ovseg

#endif  // OVSEG_SERVER_VOCABULARY_LABEL_SET_H_
