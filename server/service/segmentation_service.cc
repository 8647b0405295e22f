#include "server/service/segmentation_service.h"

#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/support/proto_buffer_writer.h>

#include <chrono>
#include <functional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/common/grpc_status.h"
#include "server/service/api_enums.h"
#include "server/service/rpc_completion.h"
#include "server/service/segment_request_parser.h"

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

RpcObservers SegmentationService::Observers() const {
  return RpcObservers{deps_.metrics, deps_.log, deps_.config->log_requests()};
}

SegmentationService::SegmentationService(const SegmentationServiceDeps& deps)
    : deps_(deps),
      vocab_pool_(std::make_unique<ThreadPool>(
          1, deps.config->vocabulary().max_pending_registrations(), "ovseg-register")) {}

grpc::ServerUnaryReactor* SegmentationService::Segment(grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* raw_request,
                                                       grpc::ByteBuffer* raw_response) {
  auto call = std::make_shared<RawCall<v1::SegmentRequest, v1::SegmentResponse>>();
  // The completion owns the call: the messages live as long as anything may use them.
  auto completion = std::make_shared<RpcCompletion>(
      Observers(), context, "Segment",
      [call, serialize = SerializeInto(&call->response, raw_response)] { serialize(); });
  if (absl::Status s = ParseRequest(*raw_request, &call->request); !s.ok()) {
    return completion->Finish(s, {{"request_bytes", raw_request->Length()}});
  }
  const v1::SegmentRequest* request = &call->request;
  v1::SegmentResponse* response = &call->response;
  if (absl::Status s = deps_.state->CheckServing(); !s.ok()) return completion->Finish(s);
  auto work = std::make_unique<SegmentWork>();
  if (absl::Status s = ParseSegmentRequest(*request, *deps_.config, *deps_.registry, work.get());
      !s.ok()) {
    return completion->Finish(s, {{"request_bytes", request->ByteSizeLong()}});
  }
  if (absl::Status s = deps_.memory->Reserve(work->memory_bytes); !s.ok()) {
    return completion->Finish(s, {{"request_bytes", request->ByteSizeLong()}});
  }
  response->set_request_id(completion->request_id());
  work->servable = deps_.models->Current();
  work->request = request;
  work->response = response;
  work->arrival = completion->start();
  work->deadline_at = DeadlineOf(context);
  work->is_cancelled = [context] { return context->IsCancelled(); };
  deps_.state->Enter();
  deps_.metrics->AddInflight(1);
  const size_t request_bytes = request->ByteSizeLong();
  const int num_labels = static_cast<int>(work->labels->size());
  const uint64_t memory_bytes = work->memory_bytes;
  work->done = [this, completion, response, request_bytes, num_labels,
                memory_bytes](const absl::Status& s) {
    nlohmann::json fields = {{"request_bytes", request_bytes},
                             {"labels", num_labels},
                             {"segments", response->segments_size()}};
    if (s.ok()) {
      const v1::StageTimings& t = response->timings();
      fields["bucket"] = response->bucket();
      fields["image"] = absl::StrCat(response->image_width(), "x", response->image_height());
      fields["decode_s"] = t.decode_seconds();
      fields["queue_s"] = t.queue_seconds();
      fields["vocabulary_s"] = t.vocabulary_seconds();
      fields["compute_s"] = t.compute_seconds();
      fields["encode_s"] = t.encode_seconds();
      fields["response_bytes"] = response->ByteSizeLong();
    } else {
      response->Clear();
    }
    completion->Finish(s, std::move(fields));
    deps_.memory->Release(memory_bytes);
    deps_.metrics->AddInflight(-1);
    deps_.state->Leave();
  };
  if (absl::Status s = deps_.processor->Submit(work); !s.ok()) {
    deps_.memory->Release(memory_bytes);
    deps_.metrics->AddInflight(-1);
    deps_.state->Leave();
    return completion->Finish(s, {{"request_bytes", request_bytes}});
  }
  return completion->reactor();
}

grpc::ServerUnaryReactor* SegmentationService::RegisterVocabulary(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request_bytes,
    grpc::ByteBuffer* response_bytes) {
  auto call =
      std::make_shared<RawCall<v1::RegisterVocabularyRequest, v1::RegisterVocabularyResponse>>();
  auto completion = std::make_shared<RpcCompletion>(
      Observers(), context, "RegisterVocabulary",
      [call, serialize = SerializeInto(&call->response, response_bytes)] { serialize(); });
  if (absl::Status s = ParseRequest(*request_bytes, &call->request); !s.ok()) {
    return completion->Finish(s);
  }
  const v1::RegisterVocabularyRequest* request = &call->request;
  v1::RegisterVocabularyResponse* response = &call->response;
  if (absl::Status s = deps_.state->CheckServing(); !s.ok()) return completion->Finish(s);
  const v1::LimitsConfig& limits = deps_.config->limits();
  absl::StatusOr<std::vector<ParsedLabel>> labels =
      ParseLabels(request->labels(), LabelLimits{static_cast<int>(limits.max_labels()),
                                                 static_cast<int>(limits.max_label_bytes())});
  if (!labels.ok()) return completion->Finish(labels.status());
  auto shared = std::make_shared<const std::vector<ParsedLabel>>(*std::move(labels));
  // Encoding a large vocabulary takes long on a miss: it runs on the vocabulary worker.
  const bool scheduled =
      vocab_pool_ && vocab_pool_->TrySchedule([this, completion, response, shared] {
        const absl::Time start = absl::Now();
        const ServableSnapshot servable = deps_.models->Current();
        absl::StatusOr<std::shared_ptr<const VocabularyEmbeddings>> vocab =
            deps_.cache->Get(*shared, servable->text_encoder());
        const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
        deps_.metrics->ObserveStage(Stage::kTextEncoder, seconds);
        if (!vocab.ok()) {
          completion->Finish(vocab.status());
          return;
        }
        response->set_vocabulary_id(deps_.registry->Register(shared));
        response->set_num_labels(static_cast<uint32_t>(shared->size()));
        response->set_encode_seconds(seconds);
        completion->Finish(absl::OkStatus(), {{"labels", shared->size()}});
      });
  if (!scheduled) {
    return completion->Finish(absl::ResourceExhaustedError(
        absl::StrCat("too many RegisterVocabulary calls in progress (",
                     deps_.config->vocabulary().max_pending_registrations(),
                     " queued: vocabulary.max_pending_registrations); retry later")));
  }
  return completion->reactor();
}

grpc::ServerUnaryReactor* SegmentationService::GetModelInfo(grpc::CallbackServerContext* context,
                                                            const v1::GetModelInfoRequest* request,
                                                            v1::GetModelInfoResponse* response) {
  auto completion = std::make_shared<RpcCompletion>(Observers(), context, "GetModelInfo");
  const ServableSnapshot servable = deps_.models->Current();
  const PipelineInfo info = servable->pipeline().Info();
  response->set_model_version(servable->version());
  response->set_model_name(info.model_name);
  response->set_device(info.device);
  response->set_text_encoder_fingerprint(servable->text_encoder().Fingerprint());
  response->set_embedding_dim(servable->text_encoder().EmbeddingDim());
  for (const v1::ShapeBucket& b : deps_.config->batching().buckets()) {
    response->add_buckets(absl::StrCat(b.width(), "x", b.height()));
  }
  for (HeadMode m : info.head_modes) response->add_head_modes(HeadModeToApi(m));
  for (SegmentTask t : info.tasks) response->add_tasks(TaskToApi(t));
  response->set_max_labels(deps_.config->limits().max_labels());
  response->set_max_image_pixels(static_cast<uint32_t>(
      std::min<uint64_t>(deps_.config->limits().max_image_pixels(), UINT32_MAX)));
  return completion->Finish(absl::OkStatus());
}

}  // namespace ovseg
