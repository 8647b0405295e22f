// Structured request log: one JSON object per line (request id, method, status, sizes,
// stage times), written whole under a lock so lines never interleave.
#ifndef OVSEG_SERVER_METRICS_REQUEST_LOG_H_
#define OVSEG_SERVER_METRICS_REQUEST_LOG_H_

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace ovseg {

class RequestLog {
 public:
  // `out` is not owned; nullptr disables logging.
  explicit RequestLog(std::FILE* out) : out_(out) {}

  // Adds "ts", "request_id", "method", "code" and "message" (on error) to `fields`.
  void Log(const std::string& request_id, const std::string& method, const absl::Status& status,
           nlohmann::json fields);

 private:
  std::FILE* const out_;
  absl::Mutex mu_;
};

// 16 random hex digits, for requests that arrive without "x-request-id".
std::string NewRequestId();

}  // namespace ovseg

#endif  // OVSEG_SERVER_METRICS_REQUEST_LOG_H_
