#include "client/ovseg_client.h"

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "common/retry_advice.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace ovseg {

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

absl::Status FromGrpcCall(const grpc::Status& status, const grpc::ClientContext& context) {
  absl::Status converted = FromGrpcStatus(status);
  if (converted.ok()) return converted;
  const auto& trailers = context.GetServerTrailingMetadata();
  const auto it = trailers.find(kRetryPushbackKey);
  int64_t ms = 0;
  if (it != trailers.end() &&
      absl::SimpleAtoi(absl::string_view(it->second.data(), it->second.size()), &ms) && ms > 0) {
    converted = WithRetryAfter(std::move(converted), absl::Milliseconds(ms));
  }
  return converted;
}

OvsegClient::OvsegClient(const ClientOptions& options) : options_(options) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_message_bytes);
  args.SetMaxSendMessageSize(options.max_message_bytes);
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (options.tls_root_certs.empty()) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.tls_root_certs;
    ssl.pem_cert_chain = options.tls_cert_chain;
    ssl.pem_private_key = options.tls_private_key;
    creds = grpc::SslCredentials(ssl);
  }
  channel_ = grpc::CreateCustomChannel(options.target, creds, args);
  stub_ = v1::Segmentation::NewStub(channel_);
}

void OvsegClient::Prepare(grpc::ClientContext* context) const {
  context->set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
}

absl::StatusOr<v1::SegmentResponse> OvsegClient::Segment(const v1::SegmentRequest& request,
                                                         const std::string& request_id) {
  grpc::ClientContext context;
  Prepare(&context);
  if (!request_id.empty()) context.AddMetadata("x-request-id", request_id);
  v1::SegmentResponse response;
  grpc::Status s = stub_->Segment(&context, request, &response);
  if (!s.ok()) return FromGrpcCall(s, context);
  return response;
}

absl::StatusOr<v1::RegisterVocabularyResponse> OvsegClient::RegisterVocabulary(
    const std::vector<std::string>& labels) {
  grpc::ClientContext context;
  Prepare(&context);
  v1::RegisterVocabularyRequest request;
  for (const std::string& l : labels) request.add_labels()->set_name(l);
  v1::RegisterVocabularyResponse response;
  grpc::Status s = stub_->RegisterVocabulary(&context, request, &response);
  if (!s.ok()) return FromGrpcCall(s, context);
  return response;
}

absl::StatusOr<v1::GetModelInfoResponse> OvsegClient::GetModelInfo() {
  grpc::ClientContext context;
  Prepare(&context);
  v1::GetModelInfoResponse response;
  grpc::Status s = stub_->GetModelInfo(&context, v1::GetModelInfoRequest(), &response);
  if (!s.ok()) return FromGrpcCall(s, context);
  return response;
}

absl::StatusOr<std::string> OvsegClient::Health(const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext context;
  Prepare(&context);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status s = stub->Check(&context, request, &response);
  if (!s.ok()) return FromGrpcCall(s, context);
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
}

}  // namespace ovseg
