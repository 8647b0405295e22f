// Prometheus metrics of the server (docs/design.md, "Operations"): `ovseg_` prefix, seconds,
// histograms rather than summaries. Push-style values are recorded through the methods;
// pull-style values (queue depth, cache statistics, RSS) are callbacks evaluated at
// scrape time, so no component needs to know about Prometheus. Thread-safe.
#ifndef OVSEG_SERVER_METRICS_SERVER_METRICS_H_
#define OVSEG_SERVER_METRICS_SERVER_METRICS_H_

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace ovseg {

enum class Stage { kQueue, kDecode, kVocabulary, kCompute, kEncode, kTextEncoder };

enum class CheckpointEvent { kLoad, kSwap, kFailure };

// How a call reached the server: the "transport" label of the request metrics.
enum class Transport { kGrpc, kHttp };

class ServerMetrics {
 public:
  ServerMetrics();

  void RecordRequest(Transport transport, const std::string& method, absl::StatusCode code,
                     double seconds);
  void ObserveStage(Stage stage, double seconds);
  void ObserveBatchSize(int size);
  void RecordCheckpointEvent(CheckpointEvent event);
  // ovseg_model_info{version, checkpoint} = 1 for the serving version only.
  void SetModelVersion(const std::string& version, const std::string& checkpoint);
  void AddInflight(double delta);

  // Values read at scrape time. Callbacks must be cheap and thread-safe, and must outlive
  // every scrape (register objects that live as long as the metrics).
  void AddGaugeCallback(const std::string& name, const std::string& help,
                        std::function<double()> fn);
  void AddCounterCallback(const std::string& name, const std::string& help,
                          std::function<double()> fn);
  // A gauge family read at scrape time, one series per returned value (none: the family
  // is left out of the exposition).
  struct LabeledValue {
    std::map<std::string, std::string> labels;
    double value = 0;
  };
  void AddLabeledGaugeCallback(const std::string& name, const std::string& help,
                               std::function<std::vector<LabeledValue>()> fn);

  // What the exposer serves: the registry plus the callback collectable.
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables() const;
  // Text exposition format 0.0.4 of everything, as /metrics would return it.
  std::string Serialize() const;

 private:
  class CallbackCollectable;

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<CallbackCollectable> callbacks_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& request_seconds_;
  prometheus::Family<prometheus::Histogram>& stage_seconds_;
  std::vector<prometheus::Histogram*> stages_;
  prometheus::Histogram& batch_size_;
  prometheus::Gauge& inflight_;
  prometheus::Family<prometheus::Counter>& checkpoint_events_;
  prometheus::Family<prometheus::Gauge>& model_info_;
  absl::Mutex mu_;
  prometheus::Gauge* model_info_gauge_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace ovseg

#endif  // OVSEG_SERVER_METRICS_SERVER_METRICS_H_
