// gRPC handlers of ovseg.v1.ModelAdmin: bearer-token authentication, streamed checkpoint
// upload into the CheckpointStore, listing and activation. Activation is the servable
// manager's: the handler queues it there and answers when it is done, so a gRPC thread
// never loads or warms a model.
#ifndef OVSEG_SERVER_SERVICE_ADMIN_SERVICE_H_
#define OVSEG_SERVER_SERVICE_ADMIN_SERVICE_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "ovseg/v1/admin.grpc.pb.h"
#include "server/checkpoint/checkpoint_store.h"
#include "server/lifecycle/servable_manager.h"
#include "server/metrics/server_metrics.h"
#include "server/service/rpc_completion.h"

namespace ovseg {

class AdminService final : public v1::ModelAdmin::CallbackService {
 public:
  // An empty token disables the service: every call is PERMISSION_DENIED.
  // Every pointer must outlive the service.
  AdminService(std::string token, CheckpointStore* store, ServableManager* models,
               const CallObservers& observers);

  grpc::ServerReadReactor<v1::CheckpointChunk>* SubmitCheckpoint(
      grpc::CallbackServerContext* context, v1::SubmitCheckpointResponse* response) override;
  grpc::ServerUnaryReactor* ListCheckpoints(grpc::CallbackServerContext* context,
                                            const v1::ListCheckpointsRequest* request,
                                            v1::ListCheckpointsResponse* response) override;
  grpc::ServerUnaryReactor* ActivateCheckpoint(grpc::CallbackServerContext* context,
                                               const v1::ActivateCheckpointRequest* request,
                                               v1::ActivateCheckpointResponse* response) override;

  // UNAUTHENTICATED without a bearer token, PERMISSION_DENIED with a wrong one.
  absl::Status Authenticate(const grpc::CallbackServerContext& context) const;

 private:
  class UploadReactor;

  const std::string token_;
  CheckpointStore* const store_;
  ServableManager* const models_;
  ServerMetrics* const metrics_;
  const CallObservers observers_;
};

}  // namespace ovseg

#endif  // OVSEG_SERVER_SERVICE_ADMIN_SERVICE_H_
