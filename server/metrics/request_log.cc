#include "server/metrics/request_log.h"

#include "absl/random/random.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace ovseg {

void RequestLog::Log(const std::string& request_id, const std::string& method,
                     const absl::Status& status, nlohmann::json fields) {
  if (out_ == nullptr) return;
  fields["ts"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(), absl::UTCTimeZone());
  fields["request_id"] = request_id;
  fields["method"] = method;
  fields["code"] = absl::StatusCodeToString(status.code());
  if (!status.ok()) fields["message"] = std::string(status.message());
  // Replacement of invalid UTF-8 keeps a hostile label from breaking the log line.
  const std::string line =
      fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  absl::MutexLock lock(&mu_);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

std::string NewRequestId() {
  static absl::Mutex mu(absl::kConstInit);
  static absl::BitGen* gen = new absl::BitGen;
  absl::MutexLock lock(&mu);
  return absl::StrFormat("%016x", absl::Uniform<uint64_t>(*gen));
}

}  // namespace ovseg
