// Client-supplied text quoted in error messages, bounded: an error must name what was
// wrong without echoing a megabyte back (gRPC carries the message in trailing metadata,
// whose limit a long echo overflows, turning a precise error into RESOURCE_EXHAUSTED).
// Stateless; thread-safe.
#ifndef OVSEG_COMMON_CLIENT_TEXT_H_
#define OVSEG_COMMON_CLIENT_TEXT_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace ovseg {

// The longest client text an error message quotes, bytes.
inline constexpr size_t kMaxQuotedBytes = 64;

// `text` in double quotes, C-escaped (so invalid UTF-8 and control bytes stay readable),
// cut after kMaxQuotedBytes input bytes with the total size noted:
//   "abc"   or   "abcdef..." (1048576 bytes)
std::string QuoteClientText(absl::string_view text);

// The longest status message the server sends; longer ones are cut (a last defence:
// every message that quotes client input uses QuoteClientText).
inline constexpr size_t kMaxStatusMessageBytes = 1024;

}  // namespace ovseg

#endif  // OVSEG_COMMON_CLIENT_TEXT_H_
