// The one conversion from absl::Status to grpc::Status (docs/design.md, "Conventions").
#ifndef OVSEG_SERVER_COMMON_GRPC_STATUS_H_
#define OVSEG_SERVER_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace ovseg {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace ovseg

#endif  // OVSEG_SERVER_COMMON_GRPC_STATUS_H_
