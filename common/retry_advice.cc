#include "common/retry_advice.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ovseg {
namespace {

// A private type URL: the payload never leaves the process (the RPC layer turns it into
// metadata), so it needs no registered message type.
constexpr char kPayloadType[] = "type.ovseg.dev/retry-after-ms";

}  // namespace

absl::Status WithRetryAfter(absl::Status status, absl::Duration delay) {
  const int64_t ms = std::clamp<int64_t>(absl::ToInt64Milliseconds(delay), 1, 3600 * 1000);
  status.SetPayload(kPayloadType, absl::Cord(absl::StrCat(ms)));
  return status;
}

std::optional<absl::Duration> RetryAfterOf(const absl::Status& status) {
  const auto payload = status.GetPayload(kPayloadType);  // absl::optional<absl::Cord>
  int64_t ms = 0;
  if (!payload || !absl::SimpleAtoi(std::string(*payload), &ms) || ms <= 0) return std::nullopt;
  return absl::Milliseconds(ms);
}

}  // namespace ovseg
