#include "server/metrics/server_metrics.h"

#include <prometheus/text_serializer.h>

#include "server/common/process_memory.h"

namespace ovseg {
namespace {

// Latency buckets from 100 us to 60 s: the server overhead sits at the bottom, CPU
// inference of large models at the top.
const prometheus::Histogram::BucketBoundaries& SecondsBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
      0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60};
  return *buckets;
}

const char* StageName(Stage stage) {
  switch (stage) {
    case Stage::kQueue:
      return "queue";
    case Stage::kDecode:
      return "decode";
    case Stage::kVocabulary:
      return "vocabulary";
    case Stage::kCompute:
      return "compute";
    case Stage::kEncode:
      return "encode";
    case Stage::kTextEncoder:
      return "text_encoder";
  }
  return "unknown";
}

}  // namespace

class ServerMetrics::CallbackCollectable : public prometheus::Collectable {
 public:
  void Add(const std::string& name, const std::string& help, prometheus::MetricType type,
           std::function<double()> fn) {
    absl::MutexLock lock(&mu_);
    entries_.push_back({name, help, type, std::move(fn), nullptr});
  }
  void AddLabeled(const std::string& name, const std::string& help,
                  std::function<std::vector<LabeledValue>()> fn) {
    absl::MutexLock lock(&mu_);
    entries_.push_back({name, help, prometheus::MetricType::Gauge, nullptr, std::move(fn)});
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    absl::MutexLock lock(&mu_);
    std::vector<prometheus::MetricFamily> families;
    for (const Entry& e : entries_) {
      prometheus::MetricFamily family;
      family.name = e.name;
      family.help = e.help;
      family.type = e.type;
      if (e.labeled) {
        for (const LabeledValue& v : e.labeled()) {
          prometheus::ClientMetric metric;
          for (const auto& [name, value] : v.labels) metric.label.push_back({name, value});
          metric.gauge.value = v.value;
          family.metric.push_back(std::move(metric));
        }
        if (family.metric.empty()) continue;
      } else {
        prometheus::ClientMetric metric;
        if (e.type == prometheus::MetricType::Counter) {
          metric.counter.value = e.fn();
        } else {
          metric.gauge.value = e.fn();
        }
        family.metric.push_back(std::move(metric));
      }
      families.push_back(std::move(family));
    }
    return families;
  }

 private:
  struct Entry {
    std::string name, help;
    prometheus::MetricType type;
    std::function<double()> fn;
    std::function<std::vector<LabeledValue>()> labeled;  // set for labelled families
  };
  mutable absl::Mutex mu_;
  std::vector<Entry> entries_ ABSL_GUARDED_BY(mu_);
};

ServerMetrics::ServerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      callbacks_(std::make_shared<CallbackCollectable>()),
      requests_(prometheus::BuildCounter()
                    .Name("ovseg_requests_total")
                    .Help("Finished calls by transport (grpc, http), method and gRPC status code.")
                    .Register(*registry_)),
      request_seconds_(prometheus::BuildHistogram()
                           .Name("ovseg_request_seconds")
                           .Help("Call latency from arrival to reply, by transport and method.")
                           .Register(*registry_)),
      stage_seconds_(prometheus::BuildHistogram()
                         .Name("ovseg_stage_seconds")
                         .Help("Time spent per request stage (queue, decode, vocabulary, "
                               "compute, encode) and per text-encoder call.")
                         .Register(*registry_)),
      batch_size_(prometheus::BuildHistogram()
                      .Name("ovseg_batch_size")
                      .Help("Requests per model batch.")
                      .Register(*registry_)
                      .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64})),
      inflight_(prometheus::BuildGauge()
                    .Name("ovseg_inflight_requests")
                    .Help("Segment requests accepted and not yet answered.")
                    .Register(*registry_)
                    .Add({})),
      checkpoint_events_(
          prometheus::BuildCounter()
              .Name("ovseg_checkpoint_events_total")
              .Help("Checkpoint loads (activations and upload checks), swaps and failures.")
              .Register(*registry_)),
      model_info_(prometheus::BuildGauge()
                      .Name("ovseg_model_info")
                      .Help("The serving model version (value 1; labels: its version id and the "
                            "stored checkpoint it came from, empty for the config's model).")
                      .Register(*registry_)) {
  for (Stage s : {Stage::kQueue, Stage::kDecode, Stage::kVocabulary, Stage::kCompute,
                  Stage::kEncode, Stage::kTextEncoder}) {
    stages_.push_back(&stage_seconds_.Add({{"stage", StageName(s)}}, SecondsBuckets()));
  }
  for (const char* event : {"load", "swap", "failure"}) checkpoint_events_.Add({{"event", event}});
  AddGaugeCallback("ovseg_process_resident_memory_bytes", "Resident set size of the server.",
                   [] { return ProcessResidentBytes(); });
}

void ServerMetrics::RecordRequest(Transport transport, const std::string& method,
                                  absl::StatusCode code, double seconds) {
  const std::string via = transport == Transport::kHttp ? "http" : "grpc";
  requests_.Add({{"transport", via}, {"method", method}, {"code", absl::StatusCodeToString(code)}})
      .Increment();
  request_seconds_.Add({{"transport", via}, {"method", method}}, SecondsBuckets()).Observe(seconds);
}

void ServerMetrics::ObserveStage(Stage stage, double seconds) {
  stages_[static_cast<int>(stage)]->Observe(seconds);
}

void ServerMetrics::ObserveBatchSize(int size) { batch_size_.Observe(size); }

void ServerMetrics::RecordCheckpointEvent(CheckpointEvent event) {
  const char* name = event == CheckpointEvent::kLoad   ? "load"
                     : event == CheckpointEvent::kSwap ? "swap"
                                                       : "failure";
  checkpoint_events_.Add({{"event", name}}).Increment();
}

void ServerMetrics::SetModelVersion(const std::string& version, const std::string& checkpoint) {
  absl::MutexLock lock(&mu_);
  if (model_info_gauge_ != nullptr) model_info_.Remove(model_info_gauge_);
  model_info_gauge_ = &model_info_.Add({{"version", version}, {"checkpoint", checkpoint}});
  model_info_gauge_->Set(1);
}

void ServerMetrics::AddInflight(double delta) { inflight_.Increment(delta); }

void ServerMetrics::AddGaugeCallback(const std::string& name, const std::string& help,
                                     std::function<double()> fn) {
  callbacks_->Add(name, help, prometheus::MetricType::Gauge, std::move(fn));
}

void ServerMetrics::AddCounterCallback(const std::string& name, const std::string& help,
                                       std::function<double()> fn) {
  callbacks_->Add(name, help, prometheus::MetricType::Counter, std::move(fn));
}

void ServerMetrics::AddLabeledGaugeCallback(const std::string& name, const std::string& help,
                                            std::function<std::vector<LabeledValue>()> fn) {
  callbacks_->AddLabeled(name, help, std::move(fn));
}

std::vector<std::shared_ptr<prometheus::Collectable>> ServerMetrics::collectables() const {
  return {registry_, callbacks_};
}

std::string ServerMetrics::Serialize() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  for (auto& f : callbacks_->Collect()) families.push_back(std::move(f));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace ovseg
