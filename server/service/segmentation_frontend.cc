#include "server/service/segmentation_frontend.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/common/process_tuning.h"
#include "server/service/api_enums.h"
#include "server/service/segment_request_parser.h"

namespace ovseg {

SegmentationFrontend::SegmentationFrontend(const SegmentationFrontendDeps& deps)
    : deps_(deps),
      vocab_pool_(
          std::make_unique<ThreadPool>(1, deps.config->vocabulary().max_pending_registrations(),
                                       "ovseg-register", EnterModelPriority)) {}

void SegmentationFrontend::Segment(const v1::SegmentRequest* request, v1::SegmentResponse* response,
                                   const CallInfo& call, CallDone done) {
  const size_t request_bytes = request->ByteSizeLong();
  if (absl::Status s = deps_.state->CheckServing(); !s.ok()) {
    done(s, {});
    return;
  }
  auto work = std::make_unique<SegmentWork>();
  if (absl::Status s = ParseSegmentRequest(*request, *deps_.config, *deps_.registry, work.get());
      !s.ok()) {
    done(s, {{"request_bytes", request_bytes}});
    return;
  }
  if (absl::Status s = deps_.memory->Reserve(work->memory_bytes); !s.ok()) {
    done(s, {{"request_bytes", request_bytes}});
    return;
  }
  response->set_request_id(call.request_id);
  work->servable = deps_.models->Current();
  work->request = request;
  work->response = response;
  work->arrival = call.arrival;
  work->deadline_at = call.deadline;
  work->is_cancelled = call.is_cancelled;
  deps_.state->Enter();
  deps_.metrics->AddInflight(1);
  const int num_labels = static_cast<int>(work->labels->size());
  const uint64_t memory_bytes = work->memory_bytes;
  auto leave = [this, memory_bytes] {
    deps_.memory->Release(memory_bytes);
    deps_.metrics->AddInflight(-1);
    deps_.state->Leave();
  };
  // Shared: Submit keeps `done` only when it accepts the work, and it is needed here
  // when it does not.
  auto finish = std::make_shared<CallDone>(std::move(done));
  // Where a late answer's time went: what the deadline left when the call reached the
  // server (gRPC's own queueing before that is the client's elapsed time minus the call's)
  // and whether admission bypassed the estimate because the model was idle (decided in
  // Submit, so read from the work: `done` lives in it and is called by the stage holding
  // it, so the work is alive).
  const std::optional<double> left_at_arrival =
      call.deadline == absl::InfiniteFuture()
          ? std::nullopt
          : std::optional<double>(absl::ToDoubleSeconds(call.deadline - call.arrival));
  const SegmentWork* admitted = work.get();
  work->done = [finish, leave, response, request_bytes, num_labels, left_at_arrival,
                admitted](const absl::Status& s) {
    nlohmann::json fields = {{"request_bytes", request_bytes},
                             {"labels", num_labels},
                             {"segments", response->segments_size()}};
    if (left_at_arrival) fields["left_at_arrival_s"] = *left_at_arrival;
    fields["admitted_idle"] = admitted->admitted_on_idle_model;
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
    (*finish)(s, std::move(fields));
    leave();
  };
  if (absl::Status s = deps_.processor->Submit(work); !s.ok()) {
    leave();
    (*finish)(s, {{"request_bytes", request_bytes}});
  }
}

void SegmentationFrontend::RegisterVocabulary(const v1::RegisterVocabularyRequest* request,
                                              v1::RegisterVocabularyResponse* response,
                                              CallDone done) {
  if (absl::Status s = deps_.state->CheckServing(); !s.ok()) {
    done(s, {});
    return;
  }
  const v1::LimitsConfig& limits = deps_.config->limits();
  absl::StatusOr<std::vector<ParsedLabel>> labels =
      ParseLabels(request->labels(), LabelLimits{static_cast<int>(limits.max_labels()),
                                                 static_cast<int>(limits.max_label_bytes())});
  if (!labels.ok()) {
    done(labels.status(), {});
    return;
  }
  auto shared = std::make_shared<const std::vector<ParsedLabel>>(*std::move(labels));
  auto finish = std::make_shared<CallDone>(std::move(done));
  // Encoding a large vocabulary takes long on a miss: it runs on the vocabulary worker.
  const bool scheduled = vocab_pool_ && vocab_pool_->TrySchedule([this, finish, response, shared] {
    const absl::Time start = absl::Now();
    const ServableSnapshot servable = deps_.models->Current();
    absl::StatusOr<std::shared_ptr<const VocabularyEmbeddings>> vocab =
        deps_.cache->Get(*shared, servable->text_encoder());
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    deps_.metrics->ObserveStage(Stage::kTextEncoder, seconds);
    if (!vocab.ok()) {
      (*finish)(vocab.status(), {});
      return;
    }
    response->set_vocabulary_id(deps_.registry->Register(shared));
    response->set_num_labels(static_cast<uint32_t>(shared->size()));
    response->set_encode_seconds(seconds);
    (*finish)(absl::OkStatus(), {{"labels", shared->size()}});
  });
  if (!scheduled) {
    (*finish)(absl::ResourceExhaustedError(
                  absl::StrCat("too many RegisterVocabulary calls in progress (",
                               deps_.config->vocabulary().max_pending_registrations(),
                               " queued: vocabulary.max_pending_registrations); retry later")),
              {});
  }
}

void SegmentationFrontend::GetModelInfo(v1::GetModelInfoResponse* response) const {
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
}

}  // namespace ovseg
