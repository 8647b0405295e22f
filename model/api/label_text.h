// The one normalisation of label text, shared by the server (cache keys, request labels)
// and the model (a checkpoint's training vocabulary, to tell seen from unseen classes), so
// that both sides compare the same strings.
#ifndef OVSEG_MODEL_API_LABEL_TEXT_H_
#define OVSEG_MODEL_API_LABEL_TEXT_H_

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"

namespace ovseg {

// Trims, collapses runs of whitespace to one space and lowercases ASCII. CLIP's tokenizer
// lowercases and collapses whitespace too, so this only merges labels that would embed
// identically.
inline std::string NormaliseLabelSynonym(absl::string_view text) {
  std::string out;
  bool pending_space = false;
  for (char c : absl::StripAsciiWhitespace(text)) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      pending_space = true;
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// A label's synonyms are separated by commas ("fire hydrant,hydrant").
inline constexpr char kLabelSynonymSeparator = ',';

}  // namespace ovseg

#endif  // OVSEG_MODEL_API_LABEL_TEXT_H_
