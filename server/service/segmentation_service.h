// gRPC handlers of ovseg.v1.Segmentation (callback API). Thin: parse, hand off, convert
// the status, record metrics and the log line. Handlers never block: Segment completes
// from the processor's callback, RegisterVocabulary from a worker thread.
#ifndef OVSEG_SERVER_SERVICE_SEGMENTATION_SERVICE_H_
#define OVSEG_SERVER_SERVICE_SEGMENTATION_SERVICE_H_

#include <memory>

#include "ovseg/v1/config.pb.h"
#include "ovseg/v1/segmentation.grpc.pb.h"
#include "server/common/thread_pool.h"
#include "server/lifecycle/servable_manager.h"
#include "server/metrics/request_log.h"
#include "server/metrics/server_metrics.h"
#include "server/service/request_memory.h"
#include "server/service/rpc_completion.h"
#include "server/service/segment_processor.h"
#include "server/service/serving_state.h"
#include "server/vocabulary/vocabulary_cache.h"
#include "server/vocabulary/vocabulary_registry.h"

namespace ovseg {

struct SegmentationServiceDeps {
  const v1::ServerConfig* config;
  SegmentProcessor* processor;
  VocabularyCache* cache;
  VocabularyRegistry* registry;
  ServableManager* models;  // The serving version, snapshotted per request.
  ServerMetrics* metrics;
  RequestLog* log;
  ServingState* state;
  Clock* clock;
  InflightMemory* memory;  // Admitted requests' memory estimates.
};

// Segment and RegisterVocabulary are raw methods: they parse their requests themselves,
// so a message protobuf cannot parse (invalid UTF-8 in a label, random bytes) gets
// INVALID_ARGUMENT saying so, instead of gRPC's bare error with no message.
class SegmentationService final : public v1::Segmentation::WithRawCallbackMethod_Segment<
                                      v1::Segmentation::WithRawCallbackMethod_RegisterVocabulary<
                                          v1::Segmentation::CallbackService>> {
 public:
  // Every dependency must outlive the service.
  explicit SegmentationService(const SegmentationServiceDeps& deps);

  grpc::ServerUnaryReactor* Segment(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* RegisterVocabulary(grpc::CallbackServerContext* context,
                                               const grpc::ByteBuffer* request,
                                               grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* context,
                                         const v1::GetModelInfoRequest* request,
                                         v1::GetModelInfoResponse* response) override;

  // Waits for registration work in progress; called by the server's shutdown.
  void Shutdown() { vocab_pool_.reset(); }

 private:
  RpcObservers Observers() const;

  SegmentationServiceDeps deps_;
  std::unique_ptr<ThreadPool> vocab_pool_;
};

}  // namespace ovseg

#endif  // OVSEG_SERVER_SERVICE_SEGMENTATION_SERVICE_H_
