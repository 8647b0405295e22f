// Client library for the ovseg API (no LibTorch). Thin synchronous wrappers that set the
// message-size limits large images need and carry a request id.
#ifndef OVSEG_CLIENT_OVSEG_CLIENT_H_
#define OVSEG_CLIENT_OVSEG_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ovseg/v1/segmentation.grpc.pb.h"

namespace ovseg {

struct ClientOptions {
  std::string target;  // "host:port"
  // PEM of the CA that signed the server certificate; empty: plaintext.
  std::string tls_root_certs;
  absl::Duration timeout = absl::Seconds(60);
  int max_message_bytes = 256 << 20;  // Far above gRPC's 4 MiB client default.
  // This client's certificate chain and private key (PEM), for servers that require a
  // client certificate; both or neither (client/client_tls.h reads them from files).
  std::string tls_cert_chain = "";
  std::string tls_private_key = "";
};

class OvsegClient {
 public:
  explicit OvsegClient(const ClientOptions& options);

  absl::StatusOr<v1::SegmentResponse> Segment(const v1::SegmentRequest& request,
                                              const std::string& request_id = "");
  absl::StatusOr<v1::RegisterVocabularyResponse> RegisterVocabulary(
      const std::vector<std::string>& labels);
  absl::StatusOr<v1::GetModelInfoResponse> GetModelInfo();
  // "SERVING", "NOT_SERVING", ... of grpc.health.v1 for `service` ("" = the server).
  absl::StatusOr<std::string> Health(const std::string& service = "");

  std::shared_ptr<grpc::Channel> channel() const { return channel_; }

 private:
  void Prepare(grpc::ClientContext* context) const;

  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Segmentation::Stub> stub_;
};

// grpc::Status -> absl::Status (same code numbering).
absl::Status FromGrpcStatus(const grpc::Status& status);
// The same for a finished call, with the server's retry advice ("grpc-retry-pushback-ms"
// in its trailing metadata) attached: read it with RetryAfterOf (common/retry_advice.h).
absl::Status FromGrpcCall(const grpc::Status& status, const grpc::ClientContext& context);

}  // namespace ovseg

#endif  // OVSEG_CLIENT_OVSEG_CLIENT_H_
