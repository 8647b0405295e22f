#include "server/service/admin_service.h"

#include <openssl/crypto.h>

#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/common/grpc_status.h"

namespace ovseg {

// Receives chunks one at a time; the first must be metadata, the rest data.
class AdminService::UploadReactor : public grpc::ServerReadReactor<v1::CheckpointChunk> {
 public:
  UploadReactor(AdminService* service, grpc::CallbackServerContext* context,
                v1::SubmitCheckpointResponse* response)
      : service_(service), response_(response), start_(absl::Now()) {
    if (absl::Status s = service_->Authenticate(*context); !s.ok()) {
      End(s);
      return;
    }
    StartRead(&chunk_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // Client finished sending (or the call broke).
      if (upload_ == nullptr) return End(absl::InvalidArgumentError("no checkpoint metadata sent"));
      absl::StatusOr<v1::CheckpointInfo> info = upload_->Commit();
      if (!info.ok()) return End(info.status());
      *response_->mutable_checkpoint() = *std::move(info);
      return End(absl::OkStatus());
    }
    absl::Status s = Consume();
    if (!s.ok()) return End(s);
    StartRead(&chunk_);
  }

  void OnDone() override { delete this; }
  void OnCancel() override {}

 private:
  absl::Status Consume() {
    if (chunk_.has_metadata()) {
      if (upload_ != nullptr) return absl::InvalidArgumentError("metadata sent twice");
      absl::StatusOr<std::unique_ptr<CheckpointUpload>> upload =
          service_->store_->BeginUpload(chunk_.metadata());
      if (!upload.ok()) return upload.status();
      upload_ = *std::move(upload);
      return absl::OkStatus();
    }
    if (upload_ == nullptr) {
      return absl::InvalidArgumentError("the first message must carry the metadata");
    }
    return upload_->Append(chunk_.data());
  }

  void End(const absl::Status& status) {
    if (!status.ok()) service_->metrics_->RecordCheckpointEvent(CheckpointEvent::kFailure);
    service_->metrics_->RecordRequest("SubmitCheckpoint", status.code(),
                                      absl::ToDoubleSeconds(absl::Now() - start_));
    upload_.reset();  // Removes the temporary file unless committed.
    Finish(ToGrpcStatus(status));
  }

  AdminService* const service_;
  v1::SubmitCheckpointResponse* const response_;
  const absl::Time start_;
  v1::CheckpointChunk chunk_;
  std::unique_ptr<CheckpointUpload> upload_;
};

AdminService::AdminService(std::string token, CheckpointStore* store, CheckpointActivator activator,
                           ServerMetrics* metrics)
    : token_(std::move(token)),
      store_(store),
      activator_(std::move(activator)),
      metrics_(metrics) {}

absl::Status AdminService::Authenticate(const grpc::CallbackServerContext& context) const {
  if (token_.empty()) {
    return absl::PermissionDeniedError("admin API disabled: no admin.token_file configured");
  }
  const auto& md = context.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) {
    return absl::UnauthenticatedError("missing \"authorization: Bearer <token>\" metadata");
  }
  const std::string value(it->second.data(), it->second.size());
  if (!absl::StartsWith(value, "Bearer ")) {
    return absl::UnauthenticatedError("authorization metadata must be \"Bearer <token>\"");
  }
  const std::string presented = value.substr(7);
  // Constant-time comparison, so response timing does not leak the token prefix.
  if (presented.size() != token_.size() ||
      CRYPTO_memcmp(presented.data(), token_.data(), token_.size()) != 0) {
    return absl::PermissionDeniedError("invalid admin token");
  }
  return absl::OkStatus();
}

grpc::ServerReadReactor<v1::CheckpointChunk>* AdminService::SubmitCheckpoint(
    grpc::CallbackServerContext* context, v1::SubmitCheckpointResponse* response) {
  return new UploadReactor(this, context, response);
}

grpc::ServerUnaryReactor* AdminService::ListCheckpoints(grpc::CallbackServerContext* context,
                                                        const v1::ListCheckpointsRequest*,
                                                        v1::ListCheckpointsResponse* response) {
  const absl::Time start = absl::Now();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status = Authenticate(*context);
  if (status.ok()) {
    absl::StatusOr<std::vector<v1::CheckpointInfo>> list = store_->List();
    if (list.ok()) {
      for (auto& info : *list) *response->add_checkpoints() = std::move(info);
    } else {
      status = list.status();
    }
  }
  metrics_->RecordRequest("ListCheckpoints", status.code(),
                          absl::ToDoubleSeconds(absl::Now() - start));
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::ActivateCheckpoint(
    grpc::CallbackServerContext* context, const v1::ActivateCheckpointRequest* request,
    v1::ActivateCheckpointResponse* response) {
  const absl::Time start = absl::Now();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status = Authenticate(*context);
  if (status.ok()) {
    absl::StatusOr<std::string> path = store_->PathOf(request->name());
    absl::StatusOr<std::string> version = path.ok() ? activator_(*path) : path.status();
    if (version.ok()) {
      store_->SetActive(request->name());
      response->set_model_version(*version);
      metrics_->RecordCheckpointEvent(CheckpointEvent::kSwap);
    } else {
      status = version.status();
      metrics_->RecordCheckpointEvent(CheckpointEvent::kFailure);
    }
  }
  metrics_->RecordRequest("ActivateCheckpoint", status.code(),
                          absl::ToDoubleSeconds(absl::Now() - start));
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace ovseg
