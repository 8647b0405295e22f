// The Segmentation API below its transports: what gRPC's and HTTP's handlers both call
// once they hold a parsed request, so that validation, limits, admission, batching,
// vocabulary caching and stage metrics are one code path whatever the wire. It knows no
// transport type; each handler converts the status, records the call (call_record.h) and
// writes its own reply.
//
// Threading: every method may be called from any thread. Segment and RegisterVocabulary
// never block; their `done` runs exactly once, on the caller's thread when the request is
// refused before work starts, else on a processor or vocabulary thread.
#ifndef OVSEG_SERVER_SERVICE_SEGMENTATION_FRONTEND_H_
#define OVSEG_SERVER_SERVICE_SEGMENTATION_FRONTEND_H_

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ovseg/v1/config.pb.h"
#include "ovseg/v1/segmentation.pb.h"
#include "server/common/clock.h"
#include "server/common/thread_pool.h"
#include "server/lifecycle/servable_manager.h"
#include "server/metrics/server_metrics.h"
#include "server/service/request_memory.h"
#include "server/service/segment_processor.h"
#include "server/service/serving_state.h"
#include "server/vocabulary/vocabulary_cache.h"
#include "server/vocabulary/vocabulary_registry.h"

namespace ovseg {

struct SegmentationFrontendDeps {
  const v1::ServerConfig* config;
  SegmentProcessor* processor;
  VocabularyCache* cache;
  VocabularyRegistry* registry;
  ServableManager* models;  // The serving version, snapshotted per request.
  ServerMetrics* metrics;
  ServingState* state;
  Clock* clock;
  InflightMemory* memory;  // Admitted requests' memory estimates.
};

// One call as its transport sees it.
struct CallInfo {
  std::string request_id;
  absl::Time arrival;
  absl::Time deadline = absl::InfiniteFuture();
  // Whether the client has gone away (empty: never asked).
  std::function<bool()> is_cancelled;
};

// The call's final status and the fields it adds to the request log line.
using CallDone = std::function<void(const absl::Status&, nlohmann::json fields)>;

class SegmentationFrontend {
 public:
  // Every dependency must outlive the frontend.
  explicit SegmentationFrontend(const SegmentationFrontendDeps& deps);

  // `request` and `response` must stay valid until `done` has returned; the response is
  // complete when the status is OK and cleared otherwise.
  void Segment(const v1::SegmentRequest* request, v1::SegmentResponse* response,
               const CallInfo& call, CallDone done);
  // Same contract; the encoding runs on the vocabulary worker (one thread, a bounded queue).
  void RegisterVocabulary(const v1::RegisterVocabularyRequest* request,
                          v1::RegisterVocabularyResponse* response, CallDone done);
  // Answers at once.
  void GetModelInfo(v1::GetModelInfoResponse* response) const;

  // OK while serving and no shutdown has begun; UNAVAILABLE saying why otherwise.
  absl::Status Readiness() const {
    if (deps_.state->drain_announced()) {
      return absl::UnavailableError("server is shutting down");
    }
    return deps_.state->CheckServing();
  }
  // Shutdown has begun: transports ask clients to reconnect elsewhere.
  bool Draining() const { return deps_.state->drain_announced(); }

  // Waits for registration work in progress; called by the server's shutdown.
  void Shutdown() { vocab_pool_.reset(); }

 private:
  SegmentationFrontendDeps deps_;
  std::unique_ptr<ThreadPool> vocab_pool_;
};

}  // namespace ovseg

#endif  // OVSEG_SERVER_SERVICE_SEGMENTATION_FRONTEND_H_
