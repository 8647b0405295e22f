#include "server/vocabulary/label_set.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/sha256.h"
#include "model/api/label_text.h"

namespace ovseg {

bool IsValidUtf8(const std::string& text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    int extra;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + static_cast<size_t>(extra) >= n) return false;
    for (int k = 1; k <= extra; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    static constexpr uint32_t kMinForLength[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

absl::StatusOr<std::vector<ParsedLabel>> ParseLabels(
    const google::protobuf::RepeatedPtrField<v1::Label>& labels, const LabelLimits& limits) {
  if (labels.empty()) {
    return absl::InvalidArgumentError("labels: at least one non-empty label is required");
  }
  if (labels.size() > limits.max_labels) {
    return absl::InvalidArgumentError(absl::StrCat(
        "labels: ", labels.size(), " labels exceed limits.max_labels = ", limits.max_labels));
  }
  std::vector<ParsedLabel> parsed;
  parsed.reserve(labels.size());
  for (int i = 0; i < labels.size(); ++i) {
    const std::string& name = labels[i].name();
    if (name.size() > static_cast<size_t>(limits.max_label_bytes)) {
      return absl::InvalidArgumentError(
          absl::StrCat("labels[", i, "]: ", name.size(),
                       " bytes exceed limits.max_label_bytes = ", limits.max_label_bytes));
    }
    if (!IsValidUtf8(name)) {
      return absl::InvalidArgumentError(absl::StrCat("labels[", i, "]: not valid UTF-8"));
    }
    ParsedLabel label;
    label.is_thing = labels[i].has_is_thing() ? labels[i].is_thing() : true;
    for (absl::string_view part : absl::StrSplit(name, kLabelSynonymSeparator)) {
      std::string synonym = NormaliseLabelSynonym(part);
      if (synonym.empty()) continue;
      if (label.synonyms.empty()) {
        label.display_name = std::string(absl::StripAsciiWhitespace(part));
      }
      label.synonyms.push_back(std::move(synonym));
    }
    if (label.synonyms.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("labels[", i, "]: empty label (no non-blank synonym)"));
    }
    label.key = absl::StrJoin(label.synonyms, std::string(1, kLabelSynonymSeparator));
    parsed.push_back(std::move(label));
  }
  return parsed;
}

std::string LabelSetId(const std::vector<ParsedLabel>& labels) {
  Sha256 hasher;
  for (const ParsedLabel& label : labels) {
    hasher.Update(label.key);
    hasher.Update(label.is_thing ? "\x1ft\x1e" : "\x1fs\x1e");
  }
  return hasher.HexDigest().substr(0, 32);
}

}  // namespace ovseg
