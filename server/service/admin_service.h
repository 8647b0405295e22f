// gRPC handlers of ovseg.v1.ModelAdmin: bearer-token authentication, streamed checkpoint
// upload into the CheckpointStore, listing and activation. Activation goes through an
// activator supplied by the server, which loads the checkpoint into the serving model.
#ifndef OVSEG_SERVER_SERVICE_ADMIN_SERVICE_H_
#define OVSEG_SERVER_SERVICE_ADMIN_SERVICE_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "ovseg/v1/admin.grpc.pb.h"
#include "server/checkpoint/checkpoint_store.h"
#include "server/metrics/server_metrics.h"

namespace ovseg {

// Loads the checkpoint file at `path` into the serving model; returns the new model
// version, or an error leaving the old model serving.
using CheckpointActivator = std::function<absl::StatusOr<std::string>(const std::string& path)>;

class AdminService final : public v1::ModelAdmin::CallbackService {
 public:
  // An empty token disables the service: every call is PERMISSION_DENIED.
  AdminService(std::string token, CheckpointStore* store, CheckpointActivator activator,
               ServerMetrics* metrics);

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
  const CheckpointActivator activator_;
  ServerMetrics* const metrics_;
};

}  // namespace ovseg

#endif  // OVSEG_SERVER_SERVICE_ADMIN_SERVICE_H_
