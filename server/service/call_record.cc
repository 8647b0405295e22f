#include "server/service/call_record.h"

#include <optional>
#include <utility>

#include "absl/time/time.h"
#include "common/retry_advice.h"

namespace ovseg {

void RecordCall(const CallObservers& observers, Transport transport, const std::string& method,
                const std::string& request_id, const absl::Status& status, double seconds,
                nlohmann::json fields) {
  observers.metrics->RecordRequest(transport, method, status.code(), seconds);
  if (!observers.log_requests || observers.log == nullptr) return;
  if (const std::optional<absl::Duration> after = RetryAfterOf(status)) {
    fields["retry_after_ms"] = absl::ToInt64Milliseconds(*after);
  }
  fields["seconds"] = seconds;
  if (transport == Transport::kHttp) fields["transport"] = "http";
  observers.log->Log(request_id, method, status, std::move(fields));
}

}  // namespace ovseg
