#include "server/service/admin_service.h"

#include <openssl/crypto.h>

#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/client_text.h"
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
      // Commit checks the file by loading it: on the manager's thread, not this one.
      if (!service_->models_->RunInOrder([this] { Commit(); })) {
        End(absl::UnavailableError(
            "the server is shutting down or busy with model loads; submit again later"));
      }
      return;
    }
    absl::Status s = Consume();
    if (!s.ok()) return End(s);
    StartRead(&chunk_);
  }

  void OnDone() override { delete this; }

  void Commit() {
    absl::StatusOr<v1::CheckpointInfo> info = upload_->Commit();
    if (!info.ok()) return End(info.status());
    *response_->mutable_checkpoint() = *std::move(info);
    End(absl::OkStatus());
  }
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
    service_->metrics_->RecordRequest(Transport::kGrpc, "SubmitCheckpoint", status.code(),
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

AdminService::AdminService(std::string token, CheckpointStore* store, ServableManager* models,
                           const CallObservers& observers)
    : token_(std::move(token)),
      store_(store),
      models_(models),
      metrics_(observers.metrics),
      observers_(observers) {}

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
  RpcCompletion completion(observers_, context, "ListCheckpoints");
  if (absl::Status s = Authenticate(*context); !s.ok()) return completion.Finish(s);
  absl::StatusOr<std::vector<v1::CheckpointInfo>> list = store_->List();
  if (!list.ok()) return completion.Finish(list.status());
  for (auto& info : *list) *response->add_checkpoints() = std::move(info);
  return completion.Finish(absl::OkStatus(), {{"checkpoints", response->checkpoints_size()}});
}

grpc::ServerUnaryReactor* AdminService::ActivateCheckpoint(
    grpc::CallbackServerContext* context, const v1::ActivateCheckpointRequest* request,
    v1::ActivateCheckpointResponse* response) {
  auto completion = std::make_shared<RpcCompletion>(observers_, context, "ActivateCheckpoint");
  if (absl::Status s = Authenticate(*context); !s.ok()) return completion->Finish(s);
  // Answered from the manager's thread once the version serves (or failed to). The
  // name is the client's: the log quotes a bounded prefix of it.
  const std::string name = QuoteClientText(request->name());
  models_->ActivateAsync(request->name(),
                         [completion, response, name](const absl::StatusOr<std::string>& version) {
                           if (version.ok()) response->set_model_version(*version);
                           nlohmann::json fields = {{"checkpoint", name}};
                           if (version.ok()) fields["model_version"] = *version;
                           completion->Finish(version.status(), std::move(fields));
                         });
  return completion->reactor();
}

}  // namespace ovseg
