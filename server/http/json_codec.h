// The HTTP gateway's wire format: protobuf's canonical JSON mapping of the gRPC messages
// (lowerCamelCase names; snake_case accepted on input; bytes as base64; 64-bit integers as
// strings), and gRPC status codes as HTTP statuses with a JSON error body in the shape of
// Google's JSON APIs: {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": ...}}.
// Pure functions, thread-safe.
#ifndef OVSEG_SERVER_HTTP_JSON_CODEC_H_
#define OVSEG_SERVER_HTTP_JSON_CODEC_H_

#include <google/protobuf/message.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace ovseg {

// Parses `body` into `message` (cleared first). Unknown fields and wrong types are
// INVALID_ARGUMENT naming the message type and protobuf's reason, quoting at most a
// bounded prefix of the client's text.
absl::Status ParseJsonMessage(absl::string_view body, google::protobuf::Message* message);

// `message` as JSON, fields at their default values included (a label index of 0 is
// printed, not left out), so that a reader needs no schema to see every field.
std::string ToJson(const google::protobuf::Message& message);

// The HTTP status of a gRPC code, as Google's HTTP/JSON transcoding maps them
// (google/rpc/code.proto): INVALID_ARGUMENT 400, NOT_FOUND 404, RESOURCE_EXHAUSTED 429,
// UNAVAILABLE 503, DEADLINE_EXCEEDED 504, CANCELLED 499, ...
int HttpStatusOf(absl::StatusCode code);

// {"error": {"code": <http status>, "status": "<gRPC code name>", "message": "..."}};
// `http_status` 0 means HttpStatusOf(status.code()).
std::string ErrorJson(const absl::Status& status, int http_status = 0);

}  // namespace ovseg

#endif  // OVSEG_SERVER_HTTP_JSON_CODEC_H_
