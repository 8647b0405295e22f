// How every finished call is recorded, whatever its transport: counted and timed in
// ovseg_requests_total / ovseg_request_seconds by transport, method and status code, and
// one request-log line carrying the caller's fields, the call's seconds and, for a
// refusal that advises when to retry (common/retry_advice.h), "retry_after_ms".
// Thread-safe; the observers must outlive every call.
#ifndef OVSEG_SERVER_SERVICE_CALL_RECORD_H_
#define OVSEG_SERVER_SERVICE_CALL_RECORD_H_

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/status.h"
#include "server/metrics/request_log.h"
#include "server/metrics/server_metrics.h"

namespace ovseg {

// Where a finished call is recorded; both must outlive the calls.
struct CallObservers {
  ServerMetrics* metrics;
  RequestLog* log;
  bool log_requests;  // ServerConfig.log_requests
};

void RecordCall(const CallObservers& observers, Transport transport, const std::string& method,
                const std::string& request_id, const absl::Status& status, double seconds,
                nlohmann::json fields);

}  // namespace ovseg

#endif  // OVSEG_SERVER_SERVICE_CALL_RECORD_H_
