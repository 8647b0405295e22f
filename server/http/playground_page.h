// The playground page (server/http/playground.html), linked into the binary so that the
// server needs no file beside it. Thread-safe; the text lives as long as the process.
#ifndef OVSEG_SERVER_HTTP_PLAYGROUND_PAGE_H_
#define OVSEG_SERVER_HTTP_PLAYGROUND_PAGE_H_

#include "absl/strings/string_view.h"

namespace ovseg {

absl::string_view PlaygroundPage();

}  // namespace ovseg

#endif  // OVSEG_SERVER_HTTP_PLAYGROUND_PAGE_H_
