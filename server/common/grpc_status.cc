#include "server/common/grpc_status.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/client_text.h"

namespace ovseg {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl and gRPC share the canonical code numbering, so the cast is exact.
  absl::string_view message = status.message();
  std::string text(message.substr(0, kMaxStatusMessageBytes));
  if (message.size() > kMaxStatusMessageBytes) {
    absl::StrAppend(&text, "... (", message.size(), " bytes in all)");
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::move(text));
}

}  // namespace ovseg
