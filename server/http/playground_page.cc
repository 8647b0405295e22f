#include "server/http/playground_page.h"

// Defined by playground_page.S (the page's bytes, .incbin).
extern "C" const char ovseg_playground_html[];
extern "C" const char ovseg_playground_html_end[];

namespace ovseg {

absl::string_view PlaygroundPage() {
  return absl::string_view(ovseg_playground_html,
                           static_cast<size_t>(ovseg_playground_html_end - ovseg_playground_html));
}

}  // namespace ovseg
