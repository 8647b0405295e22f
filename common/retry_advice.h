// When a refused client should try again, carried on the refusal's absl::Status.
//
// Admission refuses work it cannot finish in time (SegmentProcessor::Submit); a client
// that retries at once is refused again, and at hundreds of refusals a second the
// refusals take CPU from the model (the soak, docs/benchmarks.md). So a refusal says when
// the work ahead of it will have drained: the status carries the delay as a payload, and
// the RPC layer (RpcCompletion) sends it as the trailing metadata gRPC's own retry policy
// honours, "grpc-retry-pushback-ms" (gRFC A6), so clients with a retry policy in their
// service config wait that long without code of their own; OvsegClient puts it back on
// the status it returns (FromGrpcCall).
//
// Pure functions, thread-safe.
#ifndef OVSEG_COMMON_RETRY_ADVICE_H_
#define OVSEG_COMMON_RETRY_ADVICE_H_

#include <optional>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace ovseg {

// The trailing metadata key, and its value: a decimal count of milliseconds.
inline constexpr char kRetryPushbackKey[] = "grpc-retry-pushback-ms";

// `status` (not OK) advising a retry after `delay`, clamped to [1 ms, 1 h].
absl::Status WithRetryAfter(absl::Status status, absl::Duration delay);

// The advice WithRetryAfter attached, if any.
std::optional<absl::Duration> RetryAfterOf(const absl::Status& status);

}  // namespace ovseg

#endif  // OVSEG_COMMON_RETRY_ADVICE_H_
