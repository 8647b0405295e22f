// The ModelAdmin service from the outside (no LibTorch): what a training job uses to
// submit its checkpoints, and what an operator uses to list and roll back. Every call
// carries the bearer token.
#ifndef OVSEG_CLIENT_ADMIN_CLIENT_H_
#define OVSEG_CLIENT_ADMIN_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/ovseg_client.h"
#include "ovseg/v1/admin.grpc.pb.h"

namespace ovseg {

class OvsegAdminClient {
 public:
  OvsegAdminClient(const ClientOptions& options, std::string token);

  // Streams the file in 1 MiB chunks under `name` (default: the file's own name), with its
  // size and sha256 up front, so the server verifies it end to end.
  absl::StatusOr<v1::CheckpointInfo> Submit(const std::string& path, std::string name = "");
  absl::StatusOr<std::vector<v1::CheckpointInfo>> List();
  // Returns the model version now serving.
  absl::StatusOr<std::string> Activate(const std::string& name);

 private:
  void Prepare(grpc::ClientContext* context) const;
  ClientOptions options_;
  std::string token_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ModelAdmin::Stub> stub_;
};

}  // namespace ovseg

#endif  // OVSEG_CLIENT_ADMIN_CLIENT_H_
