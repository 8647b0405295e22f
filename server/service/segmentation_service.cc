#include "server/service/segmentation_service.h"

#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/support/proto_buffer_writer.h>

#include <chrono>
#include <functional>
#include <string>

#include "absl/strings/str_cat.h"
#include "server/service/rpc_completion.h"

namespace ovseg {
namespace {

// A raw call's request and response messages, alive until its completion is gone.
template <typename Request, typename Response>
struct RawCall {
  Request request;
  Response response;
};

// protobuf's parser says only "no"; the likeliest cause is named. In proto3 every string
// field must be valid UTF-8, and a label with a stray Latin-1 byte is the common case.
template <typename Request>
absl::Status ParseRequest(const grpc::ByteBuffer& bytes, Request* request) {
  grpc::ByteBuffer copy(bytes);  // shares the slices; the reader consumes its buffer
  grpc::ProtoBufferReader reader(&copy);
  if (request->ParseFromZeroCopyStream(&reader)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("request: ", bytes.Length(), " bytes that do not parse as ",
                   Request::descriptor()->full_name(),
                   " (string fields such as labels and vocabulary_id must be valid UTF-8)"));
}

template <typename Response>
std::function<void()> SerializeInto(const Response* response, grpc::ByteBuffer* out) {
  return [response, out] {
    bool own_buffer = false;
    grpc::GenericSerialize<grpc::ProtoBufferWriter, Response>(*response, out, &own_buffer)
        .IgnoreError();
  };
}

absl::Time DeadlineOf(grpc::CallbackServerContext* context) {
  const auto deadline = context->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

}  // namespace

grpc::ServerUnaryReactor* SegmentationService::Segment(grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* raw_request,
                                                       grpc::ByteBuffer* raw_response) {
  auto call = std::make_shared<RawCall<v1::SegmentRequest, v1::SegmentResponse>>();
  // The completion owns the call: the messages live as long as anything may use them.
  auto completion = std::make_shared<RpcCompletion>(
      observers_, context, "Segment",
      [call, serialize = SerializeInto(&call->response, raw_response)] { serialize(); });
  if (absl::Status s = ParseRequest(*raw_request, &call->request); !s.ok()) {
    return completion->Finish(s, {{"request_bytes", raw_request->Length()}});
  }
  CallInfo info;
  info.request_id = completion->request_id();
  info.arrival = completion->start();
  info.deadline = DeadlineOf(context);
  info.is_cancelled = [context] { return context->IsCancelled(); };
  // The reactor is taken before the call is handed on: `done` may finish, and so free,
  // the call before Segment returns.
  grpc::ServerUnaryReactor* reactor = completion->reactor();
  frontend_->Segment(&call->request, &call->response, info,
                     [completion](const absl::Status& s, nlohmann::json fields) {
                       completion->Finish(s, std::move(fields));
                     });
  return reactor;
}

grpc::ServerUnaryReactor* SegmentationService::RegisterVocabulary(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request_bytes,
    grpc::ByteBuffer* response_bytes) {
  auto call =
      std::make_shared<RawCall<v1::RegisterVocabularyRequest, v1::RegisterVocabularyResponse>>();
  auto completion = std::make_shared<RpcCompletion>(
      observers_, context, "RegisterVocabulary",
      [call, serialize = SerializeInto(&call->response, response_bytes)] { serialize(); });
  if (absl::Status s = ParseRequest(*request_bytes, &call->request); !s.ok()) {
    return completion->Finish(s);
  }
  grpc::ServerUnaryReactor* reactor = completion->reactor();
  frontend_->RegisterVocabulary(&call->request, &call->response,
                                [completion](const absl::Status& s, nlohmann::json fields) {
                                  completion->Finish(s, std::move(fields));
                                });
  return reactor;
}

grpc::ServerUnaryReactor* SegmentationService::GetModelInfo(grpc::CallbackServerContext* context,
                                                            const v1::GetModelInfoRequest* request,
                                                            v1::GetModelInfoResponse* response) {
  auto completion = std::make_shared<RpcCompletion>(observers_, context, "GetModelInfo");
  frontend_->GetModelInfo(response);
  return completion->Finish(absl::OkStatus());
}

}  // namespace ovseg
