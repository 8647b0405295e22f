// Tables for CLIP's text clean-up and pre-tokenisation, generated from the reference's own
// Python libraries by scripts/gen/make_clip_text_tables.py (see there for what each holds).
#ifndef OVSEG_MODEL_CLIP_GENERATED_CLIP_TEXT_TABLES_H_
#define OVSEG_MODEL_CLIP_GENERATED_CLIP_TEXT_TABLES_H_

#include <cstddef>
#include <cstdint>

namespace ovseg::clip_text {

struct CodePointRange {
  uint32_t first, last;  // Inclusive, sorted, disjoint.
};
struct CodePointMapping {
  uint32_t code_point;  // Sorted.
  const char* utf8;     // Replacement text (may be empty).
  size_t utf8_size;
};
struct HtmlEntity {
  const char* name;  // Sorted (byte order); some names lack the trailing ';'.
  const char* utf8;
};

extern const CodePointRange kLetterRanges[];
extern const size_t kLetterRangesSize;
extern const CodePointRange kNumberRanges[];
extern const size_t kNumberRangesSize;
extern const CodePointRange kSpaceRanges[];
extern const size_t kSpaceRangesSize;
extern const CodePointRange kStripSpaceRanges[];
extern const size_t kStripSpaceRangesSize;
extern const CodePointMapping kLowercase[];
extern const size_t kLowercaseSize;
extern const CodePointMapping kFtfySingleCodePoint[];
extern const size_t kFtfySingleCodePointSize;
extern const HtmlEntity kHtmlEntities[];
extern const size_t kHtmlEntitiesSize;
extern const CodePointMapping kHtmlInvalidCharrefs[];
extern const size_t kHtmlInvalidCharrefsSize;
extern const uint32_t kHtmlInvalidCodePoints[];
extern const size_t kHtmlInvalidCodePointsSize;

}  // namespace ovseg::clip_text

#endif  // OVSEG_MODEL_CLIP_GENERATED_CLIP_TEXT_TABLES_H_
