// libFuzzer target: what the HTTP gateway makes of client bytes before the shared request
// path: a JSON body as a SegmentRequest (protobuf's JSON parser behind ParseJsonMessage,
// whose errors quote client text) and a multipart form's fields as a SegmentRequest
// (SegmentRequestFromForm). The input's first byte chooses; a form is the rest split at
// 0x00 bytes into name / content pairs. Neither may crash, and a refusal's message stays
// bounded however long the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "server/http/form_request.h"
#include "server/http/json_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] % 2 == 0) {
    ovseg::v1::SegmentRequest request;
    const absl::Status s = ovseg::ParseJsonMessage(rest, &request);
    if (!s.ok() && s.message().size() > 1024) std::abort();  // client text echoed whole
    ovseg::ErrorJson(s);
    return 0;
  }
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= rest.size(); ++i) {
    if (i == rest.size() || rest[i] == '\0') {
      parts.push_back(rest.substr(start, i - start));
      start = i + 1;
    }
  }
  std::vector<ovseg::FormField> fields;
  for (size_t i = 0; i + 1 < parts.size(); i += 2) {
    fields.push_back({parts[i], parts[i] == "image" ? "x.png" : "", parts[i + 1]});
  }
  const absl::StatusOr<ovseg::v1::SegmentRequest> r = ovseg::SegmentRequestFromForm(fields);
  if (!r.ok() && r.status().message().size() > 1024) std::abort();
  return 0;
}
