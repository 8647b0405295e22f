// A running ovseg server: the gRPC services (Segmentation, ModelAdmin, health,
// reflection), the HTTP/JSON gateway with the playground page (when http_address is set), the
// request processor, the vocabulary cache, the servable manager and the metrics exposer, with their
// lifecycle: NOT_SERVING until the recorded active checkpoint is restored and warm-up has run,
// SERVING, then draining on Shutdown.
#ifndef OVSEG_SERVER_OVSEG_SERVER_H_
#define OVSEG_SERVER_OVSEG_SERVER_H_

#include <grpcpp/server.h>
#include <prometheus/exposer.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "model/api/serving_model.h"
#include "ovseg/v1/config.pb.h"
#include "server/checkpoint/checkpoint_store.h"
#include "server/checkpoint/checkpoint_watcher.h"
#include "server/http/http_gateway.h"
#include "server/lifecycle/servable_manager.h"
#include "server/metrics/server_metrics.h"
#include "server/service/admin_service.h"
#include "server/service/segment_processor.h"
#include "server/service/segmentation_frontend.h"
#include "server/service/segmentation_service.h"
#include "server/service/serving_state.h"

namespace ovseg {

// The health-check service name that reports SERVING whenever the process answers (the
// liveness probe's); "" and "ovseg.v1.Segmentation" report readiness.
inline constexpr char kLivenessService[] = "liveness";

struct OvsegServerOptions {
  v1::ServerConfig config;  // Defaults applied and validated (config_loader.h).
  // The config's own model (model.checkpoint, or the untrained one): it serves until a
  // stored checkpoint is activated, or restored at start. Required.
  ServingModel model;
  // Builds a checkpoint file's model: with it, uploads are checked by loading them, and
  // ActivateCheckpoint, the watched directory and the restart restore can activate
  // (lifecycle/servable_manager.h). Empty: activation is refused.
  ServableLoader checkpoint_loader;
  Clock* clock = RealClock::Get();
  std::FILE* request_log = stderr;  // nullptr: no request log.
  // Reads each accelerator's memory at scrape time, exported as
  // ovseg_device_memory_bytes{device, kind="allocated"|"reserved"|"peak_allocated"}
  // (main.cc passes LibTorch's CUDA caching-allocator counters). Empty, or returning no
  // reading (a CPU server): no such series.
  struct DeviceMemoryReading {
    std::string device;  // "cuda:0"
    double allocated_bytes = 0, reserved_bytes = 0, peak_allocated_bytes = 0;
  };
  std::function<std::vector<DeviceMemoryReading>()> device_memory;
};

class OvsegServer {
 public:
  // Binds the ports and starts serving; warm-up runs in the background and health turns
  // SERVING when it succeeds.
  static absl::StatusOr<std::unique_ptr<OvsegServer>> Start(OvsegServerOptions options);
  ~OvsegServer();

  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }           // 0 when metrics are off.
  int http_port() const { return http_ ? http_->port() : 0; }  // 0 when HTTP is off.
  ServingState::State state() const { return state_.Get(); }
  bool WaitUntilServing(absl::Duration timeout) const;
  ServerMetrics& metrics() { return metrics_; }
  ServableManager& models() { return *models_; }
  // The watched directory's scanner (null when admin.watch_dir is unset).
  CheckpointWatcher* watcher() { return watcher_.get(); }
  // Final warm-up status (OK until it has finished).
  absl::Status warmup_status() const;

  // Health NOT_SERVING and GOAWAY to every client (new calls go to other replicas), let
  // in-flight calls finish for up to `grace`, then cancel the rest and stop. Idempotent;
  // returns once everything is stopped.
  void Shutdown(absl::Duration grace);

 private:
  explicit OvsegServer(OvsegServerOptions options);
  // Start-up, in order: the request path (cache, registry, memory account, processor),
  // the model lifecycle (checkpoint store, servable manager, watched directory), the
  // gRPC services, the metrics, the listening ports, then warm-up in the background.
  absl::Status Init();
  absl::Status InitRequestPath();
  absl::Status InitModelLifecycle();
  absl::Status InitServices();
  // Where every transport records its finished calls (metrics, request log).
  CallObservers Observers();
  void RegisterScrapedMetrics();
  absl::Status StartMetricsExposer();
  absl::Status StartGrpc();
  absl::Status StartHttp();
  void StartWarmUp();
  // The config's own model, with its version id: the digest of model.checkpoint, or the
  // pipeline's own name for an untrained model.
  absl::StatusOr<ServableSnapshot> InitialServable() const;
  void SetHealth(bool serving);

  OvsegServerOptions options_;
  ServerMetrics metrics_;
  ServingState state_;
  std::unique_ptr<RequestLog> log_;
  std::unique_ptr<VocabularyCache> cache_;
  std::unique_ptr<VocabularyRegistry> registry_;
  std::unique_ptr<InflightMemory> memory_;
  std::unique_ptr<SegmentProcessor> processor_;
  std::unique_ptr<CheckpointStore> checkpoints_;
  std::unique_ptr<SegmentationFrontend> frontend_;
  std::unique_ptr<SegmentationService> segmentation_service_;
  std::unique_ptr<AdminService> admin_service_;
  std::unique_ptr<ServableManager> models_;
  std::unique_ptr<CheckpointWatcher> watcher_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<HttpGateway> http_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::thread warmup_thread_;
  int port_ = 0;
  int metrics_port_ = 0;
  mutable absl::Mutex mu_;
  absl::Status warmup_status_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace ovseg

#endif  // OVSEG_SERVER_OVSEG_SERVER_H_
