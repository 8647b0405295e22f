#include "server/service/rpc_completion.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/retry_advice.h"
#include "server/common/grpc_status.h"

namespace ovseg {
namespace {

std::string RequestIdOf(grpc::CallbackServerContext* context) {
  const auto& md = context->client_metadata();
  auto it = md.find("x-request-id");
  if (it != md.end() && !it->second.empty() && it->second.size() <= 128) {
    return std::string(it->second.data(), it->second.size());
  }
  return NewRequestId();
}

}  // namespace

RpcCompletion::RpcCompletion(const CallObservers& observers, grpc::CallbackServerContext* context,
                             std::string method, std::function<void()> serialize)
    : observers_(observers),
      context_(context),
      reactor_(context->DefaultReactor()),
      serialize_(std::move(serialize)),
      method_(std::move(method)),
      request_id_(RequestIdOf(context)),
      start_(absl::Now()) {
  context->AddTrailingMetadata("x-request-id", request_id_);
}

grpc::ServerUnaryReactor* RpcCompletion::Finish(const absl::Status& status, nlohmann::json fields) {
  if (const std::optional<absl::Duration> after = RetryAfterOf(status)) {
    context_->AddTrailingMetadata(kRetryPushbackKey,
                                  absl::StrCat(absl::ToInt64Milliseconds(*after)));
  }
  RecordCall(observers_, Transport::kGrpc, method_, request_id_, status,
             absl::ToDoubleSeconds(absl::Now() - start_), std::move(fields));
  grpc::ServerUnaryReactor* reactor = reactor_;
  if (status.ok() && serialize_) serialize_();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace ovseg
