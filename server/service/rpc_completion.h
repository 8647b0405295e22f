// How every unary handler ends (both services): the request id (the client's
// "x-request-id", else a new one) in the trailing metadata, a refusal's retry advice
// (common/retry_advice.h) as "grpc-retry-pushback-ms", the status converted once,
// the request counted and timed, one log line. Owned by the call (a shared_ptr captured by
// whatever finishes it); Finish() is called exactly once, from any thread.
#ifndef OVSEG_SERVER_SERVICE_RPC_COMPLETION_H_
#define OVSEG_SERVER_SERVICE_RPC_COMPLETION_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/service/call_record.h"

namespace ovseg {

class RpcCompletion {
 public:
  // `serialize`, if set, writes the response into the raw reply before an OK finish
  // (raw-method handlers parse and serialize their own messages).
  RpcCompletion(const CallObservers& observers, grpc::CallbackServerContext* context,
                std::string method, std::function<void()> serialize = nullptr);

  const std::string& request_id() const { return request_id_; }
  absl::Time start() const { return start_; }
  grpc::ServerUnaryReactor* reactor() const { return reactor_; }

  // `fields` join the log line (with "seconds").
  grpc::ServerUnaryReactor* Finish(const absl::Status& status, nlohmann::json fields = {});

 private:
  const CallObservers observers_;
  grpc::CallbackServerContext* const context_;
  grpc::ServerUnaryReactor* const reactor_;
  const std::function<void()> serialize_;
  const std::string method_;
  const std::string request_id_;
  const absl::Time start_;
};

}  // namespace ovseg

#endif  // OVSEG_SERVER_SERVICE_RPC_COMPLETION_H_
