#include "client/admin_client.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/sha256.h"

namespace ovseg {

OvsegAdminClient::OvsegAdminClient(const ClientOptions& options, std::string token)
    : options_(options), token_(std::move(token)) {
  OvsegClient base(options);  // the same channel settings (TLS, message sizes)
  channel_ = base.channel();
  stub_ = v1::ModelAdmin::NewStub(channel_);
}

void OvsegAdminClient::Prepare(grpc::ClientContext* context) const {
  context->set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
  context->AddMetadata("authorization", absl::StrCat("Bearer ", token_));
}

absl::StatusOr<v1::CheckpointInfo> OvsegAdminClient::Submit(const std::string& path,
                                                            std::string name) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  if (name.empty()) name = std::filesystem::path(path).filename().string();
  grpc::ClientContext context;
  Prepare(&context);
  v1::SubmitCheckpointResponse response;
  std::unique_ptr<grpc::ClientWriter<v1::CheckpointChunk>> writer =
      stub_->SubmitCheckpoint(&context, &response);
  v1::CheckpointChunk chunk;
  chunk.mutable_metadata()->set_name(name);
  chunk.mutable_metadata()->set_size_bytes(bytes.size());
  chunk.mutable_metadata()->set_sha256(Sha256Hex(bytes));
  bool open = writer->Write(chunk);
  constexpr size_t kChunk = 1 << 20;
  for (size_t at = 0; open && at < bytes.size(); at += kChunk) {
    chunk.set_data(bytes.substr(at, kChunk));
    open = writer->Write(chunk);
  }
  writer->WritesDone();
  const grpc::Status s = writer->Finish();
  if (!s.ok()) return FromGrpcCall(s, context);
  return response.checkpoint();
}

absl::StatusOr<std::vector<v1::CheckpointInfo>> OvsegAdminClient::List() {
  grpc::ClientContext context;
  Prepare(&context);
  v1::ListCheckpointsResponse response;
  const grpc::Status s = stub_->ListCheckpoints(&context, v1::ListCheckpointsRequest(), &response);
  if (!s.ok()) return FromGrpcCall(s, context);
  return std::vector<v1::CheckpointInfo>(response.checkpoints().begin(),
                                         response.checkpoints().end());
}

absl::StatusOr<std::string> OvsegAdminClient::Activate(const std::string& name) {
  grpc::ClientContext context;
  Prepare(&context);
  v1::ActivateCheckpointRequest request;
  request.set_name(name);
  v1::ActivateCheckpointResponse response;
  const grpc::Status s = stub_->ActivateCheckpoint(&context, request, &response);
  if (!s.ok()) return FromGrpcCall(s, context);
  return response.model_version();
}

}  // namespace ovseg
