#include "server/ovseg_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "server/common/cpu_quota.h"
#include "server/common/process_tuning.h"

namespace ovseg {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* field) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(field, ": cannot read ", path));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const v1::TlsConfig& tls) {
  if (tls.cert_file().empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions ssl;
  absl::StatusOr<std::string> cert = ReadFile(tls.cert_file(), "tls.cert_file");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadFile(tls.key_file(), "tls.key_file");
  if (!key.ok()) return key.status();
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  if (!tls.client_ca_file().empty()) {
    absl::StatusOr<std::string> ca = ReadFile(tls.client_ca_file(), "tls.client_ca_file");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
    ssl.client_certificate_request =
        tls.require_client_cert() ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                  : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

OvsegServer::OvsegServer(OvsegServerOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<OvsegServer>> OvsegServer::Start(OvsegServerOptions options) {
  if (!options.model.pipeline || !options.model.text_encoder) {
    return absl::InvalidArgumentError("OvsegServer needs a pipeline and a text encoder");
  }
  std::unique_ptr<OvsegServer> server(new OvsegServer(std::move(options)));
  if (absl::Status s = server->Init(); !s.ok()) {
    server->Shutdown(absl::ZeroDuration());
    return s;
  }
  return server;
}

absl::Status OvsegServer::Init() {
  log_ = std::make_unique<RequestLog>(options_.request_log);
  if (absl::Status s = InitRequestPath(); !s.ok()) return s;
  if (absl::Status s = InitModelLifecycle(); !s.ok()) return s;
  if (absl::Status s = InitServices(); !s.ok()) return s;
  RegisterScrapedMetrics();
  if (absl::Status s = StartMetricsExposer(); !s.ok()) return s;
  if (absl::Status s = StartGrpc(); !s.ok()) return s;
  if (absl::Status s = StartHttp(); !s.ok()) return s;
  StartWarmUp();
  return absl::OkStatus();
}

absl::Status OvsegServer::InitRequestPath() {
  const v1::ServerConfig& c = options_.config;
  VocabularyCacheOptions cache_options;
  cache_options.max_bytes = c.vocabulary().cache_max_bytes();
  cache_options.prompt_templates.assign(c.vocabulary().prompt_templates().begin(),
                                        c.vocabulary().prompt_templates().end());
  cache_options.text_encoder_batch_size =
      static_cast<int>(c.vocabulary().text_encoder_batch_size());
  cache_ = std::make_unique<VocabularyCache>(cache_options);
  registry_ = std::make_unique<VocabularyRegistry>(
      static_cast<size_t>(c.vocabulary().max_registered_vocabularies()));
  memory_ = std::make_unique<InflightMemory>(c.limits().max_inflight_memory_bytes());

  SegmentProcessorOptions p;
  p.image_limits = ImageLimits{c.limits().max_image_pixels(), c.limits().max_image_side()};
  for (const v1::ShapeBucket& b : c.batching().buckets()) {
    p.buckets.push_back(ShapeBucket{static_cast<int>(b.width()), static_cast<int>(b.height())});
  }
  p.batching.max_batch_size = static_cast<int>(c.batching().max_batch_size());
  p.batching.max_queue_delay_us = static_cast<int64_t>(c.batching().max_queue_delay_us());
  p.batching.max_queue_size = static_cast<int>(c.batching().max_queue_size());
  p.max_queue_seconds = c.batching().max_queue_seconds();
  p.batching.num_batch_threads = static_cast<int>(c.batching().num_batch_threads());
  // Default: the CPUs the pod may use (its cgroup quota), not the node's cores.
  p.io_threads = c.io_threads() > 0 ? static_cast<int>(c.io_threads()) : AvailableCpus();
  p.vocabulary_threads = static_cast<int>(c.vocabulary().encoder_threads());
  absl::StatusOr<std::unique_ptr<SegmentProcessor>> processor =
      SegmentProcessor::Create(p, cache_.get(), &metrics_, options_.clock);
  if (!processor.ok()) return processor.status();
  processor_ = *std::move(processor);
  return absl::OkStatus();
}

absl::Status OvsegServer::InitModelLifecycle() {
  const v1::ServerConfig& c = options_.config;
  CheckpointStoreOptions store_options;
  store_options.directory = c.admin().checkpoint_dir();
  store_options.max_bytes = c.admin().max_checkpoint_bytes();
  store_options.keep_last = static_cast<int>(c.admin().keep_last());
  if (options_.checkpoint_loader) {
    // An upload is stored only if it loads (checked on the manager's thread, created
    // below before any upload can arrive: admin_service.cc).
    store_options.validate = [this](const std::string& path) { return models_->CheckLoads(path); };
  }
  absl::StatusOr<std::unique_ptr<CheckpointStore>> store = CheckpointStore::Create(store_options);
  if (!store.ok()) return store.status();
  checkpoints_ = *std::move(store);

  absl::StatusOr<ServableSnapshot> initial = InitialServable();
  if (!initial.ok()) return initial.status();
  ServableManagerOptions m;
  m.load = options_.checkpoint_loader;
  if (c.model().warm_up()) {
    m.warm_up = [this](const Servable& servable) { return processor_->WarmUp(servable); };
  }
  m.store = checkpoints_.get();
  m.cache = cache_.get();
  m.thread_init = EnterModelPriority;
  m.metrics = &metrics_;
  m.log = log_.get();
  models_ = std::make_unique<ServableManager>(std::move(m), *std::move(initial));

  if (c.admin().watch_dir().empty()) return absl::OkStatus();
  CheckpointWatcherOptions w;
  w.directory = c.admin().watch_dir();
  w.interval = absl::Seconds(c.admin().watch_interval_seconds());
  w.activate = [this](const std::string& name, const std::string&) {
    return models_->Activate(name);
  };
  w.report = [this](const std::string& name, const absl::Status& outcome) {
    log_->Log("admin.watch_dir", name, outcome, {});
  };
  absl::StatusOr<std::unique_ptr<CheckpointWatcher>> watcher =
      CheckpointWatcher::Create(std::move(w), checkpoints_.get());
  if (!watcher.ok()) return watcher.status();
  watcher_ = *std::move(watcher);
  return absl::OkStatus();
}

CallObservers OvsegServer::Observers() {
  return CallObservers{&metrics_, log_.get(), options_.config.log_requests()};
}

absl::Status OvsegServer::InitServices() {
  const v1::ServerConfig& c = options_.config;
  std::string token;
  if (!c.admin().token_file().empty()) {
    absl::StatusOr<std::string> t = ReadFile(c.admin().token_file(), "admin.token_file");
    if (!t.ok()) return t.status();
    token = std::string(absl::StripAsciiWhitespace(*t));
    if (token.size() < 16) {
      return absl::InvalidArgumentError("admin.token_file: token shorter than 16 characters");
    }
  }
  admin_service_ =
      std::make_unique<AdminService>(token, checkpoints_.get(), models_.get(), Observers());
  frontend_ = std::make_unique<SegmentationFrontend>(
      SegmentationFrontendDeps{&options_.config, processor_.get(), cache_.get(), registry_.get(),
                               models_.get(), &metrics_, &state_, options_.clock, memory_.get()});
  segmentation_service_ = std::make_unique<SegmentationService>(frontend_.get(), Observers());
  return absl::OkStatus();
}

void OvsegServer::RegisterScrapedMetrics() {
  if (options_.device_memory) {
    metrics_.AddLabeledGaugeCallback(
        "ovseg_device_memory_bytes",
        "Accelerator memory by device: allocated (in tensors), reserved (held by the caching "
        "allocator) and peak_allocated.",
        [read = options_.device_memory] {
          std::vector<ServerMetrics::LabeledValue> values;
          for (const OvsegServerOptions::DeviceMemoryReading& r : read()) {
            values.push_back({{{"device", r.device}, {"kind", "allocated"}}, r.allocated_bytes});
            values.push_back({{{"device", r.device}, {"kind", "reserved"}}, r.reserved_bytes});
            values.push_back(
                {{{"device", r.device}, {"kind", "peak_allocated"}}, r.peak_allocated_bytes});
          }
          return values;
        });
  }
  metrics_.AddGaugeCallback("ovseg_queue_depth",
                            "Segment requests waiting for decode, their vocabulary or the model.",
                            [this] { return static_cast<double>(processor_->queue_depth()); });
  metrics_.AddGaugeCallback(
      "ovseg_inflight_memory_bytes",
      "Upper-bound memory estimates of the Segment requests admitted and not yet answered "
      "(limit: limits.max_inflight_memory_bytes).",
      [this] { return static_cast<double>(memory_->used()); });
  auto stat = [this](uint64_t VocabularyCacheStats::*field) {
    return [this, field] { return static_cast<double>(cache_->Stats().*field); };
  };
  metrics_.AddCounterCallback("ovseg_vocabulary_cache_hits_total",
                              "Label and vocabulary lookups served from the cache.",
                              stat(&VocabularyCacheStats::hits));
  metrics_.AddCounterCallback("ovseg_vocabulary_cache_misses_total",
                              "Label lookups that needed the text encoder.",
                              stat(&VocabularyCacheStats::misses));
  metrics_.AddCounterCallback("ovseg_vocabulary_cache_evictions_total",
                              "Cache entries evicted to stay within the byte budget.",
                              stat(&VocabularyCacheStats::evictions));
  metrics_.AddGaugeCallback("ovseg_vocabulary_cache_bytes", "Bytes held by the embedding cache.",
                            [this] { return static_cast<double>(cache_->Stats().bytes); });
}

absl::Status OvsegServer::StartMetricsExposer() {
  const std::string& address = options_.config.metrics_address();
  if (address.empty() || address == "none") return absl::OkStatus();
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(address);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("metrics_address ", address, ": ", e.what()));
  }
  for (const auto& collectable : metrics_.collectables())
    exposer_->RegisterCollectable(collectable);
  const auto ports = exposer_->GetListeningPorts();
  metrics_port_ = ports.empty() ? 0 : ports.front();
  return absl::OkStatus();
}

absl::Status OvsegServer::StartGrpc() {
  const v1::ServerConfig& c = options_.config;
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = Credentials(c.tls());
  if (!creds.ok()) return creds.status();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(c.listen_address(), *creds, &port_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(c.limits().max_receive_message_bytes()));
  builder.SetMaxSendMessageSize(-1);
  if (c.max_connection_age_seconds() > 0) {
    const int grace = c.max_connection_age_grace_seconds() > 0
                          ? static_cast<int>(c.max_connection_age_grace_seconds())
                          : 30;
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                               static_cast<int>(c.max_connection_age_seconds()) * 1000);
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, grace * 1000);
  }
  builder.RegisterService(segmentation_service_.get());
  builder.RegisterService(admin_service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", c.listen_address()));
  }
  SetHealth(false);
  // Liveness (deploy/: the kubelet's grpc probe asks for service "liveness"): the process
  // answers, whether warming up, serving or draining; a restart would not help either.
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->SetServingStatus(std::string(kLivenessService), true);
  }
  return absl::OkStatus();
}

absl::Status OvsegServer::StartHttp() {
  const v1::ServerConfig& c = options_.config;
  if (c.http_address().empty() || c.http_address() == "none") return absl::OkStatus();
  HttpGatewayOptions options;
  options.address = c.http_address();
  options.threads = static_cast<int>(c.http_threads());
  // A JSON body carries the image in base64 (4 bytes per 3) around the gRPC message.
  options.max_body_bytes = c.limits().max_receive_message_bytes() / 3 * 4 + (1 << 20);
  options.tls = c.tls();
  absl::StatusOr<std::unique_ptr<HttpGateway>> http =
      HttpGateway::Start(options, frontend_.get(), Observers());
  if (!http.ok()) return http.status();
  http_ = *std::move(http);
  return absl::OkStatus();
}

void OvsegServer::StartWarmUp() {
  warmup_thread_ = std::thread([this] {
    EnterModelPriority();  // it warms the model up
    // A checkpoint activated before a restart (or kill -9) serves again; restoring it
    // warms it up on the way.
    absl::Status restored = models_->RestoreRecordedActive();
    if (!restored.ok()) log_->Log("startup", "RestoreActive", restored, {});
    // A watched directory shared by replicas decides over the local record: catch up on
    // its newest loadable checkpoint before serving, as the other replicas serve it.
    if (watcher_ != nullptr) watcher_->ScanOnce();
    const bool warmed = restored.ok() && !checkpoints_->active().empty();
    absl::Status s = !options_.config.model().warm_up() || warmed
                         ? absl::OkStatus()
                         : processor_->WarmUp(*models_->Current());
    {
      absl::MutexLock lock(&mu_);
      warmup_status_ = s;
      if (shut_down_) return;
      if (s.ok()) state_.Set(ServingState::kServing);
    }
    if (s.ok()) {
      SetHealth(true);
    } else {
      log_->Log("startup", "WarmUp", s, {});
    }
  });
}

absl::StatusOr<ServableSnapshot> OvsegServer::InitialServable() const {
  const std::string& path = options_.config.model().checkpoint();
  std::string version = options_.model.pipeline->Info().model_version;
  if (!path.empty()) {
    absl::StatusOr<std::string> digest = Sha256HexOfFile(path);
    if (!digest.ok()) return digest.status();
    version = VersionIdOfDigest(*digest);
  }
  return std::make_shared<const Servable>(version, "", options_.model);
}

void OvsegServer::SetHealth(bool serving) {
  if (server_ == nullptr) return;
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health == nullptr) return;
  // By name: SetServingStatus(bool) would set every service, liveness included.
  health->SetServingStatus("", serving);
  health->SetServingStatus("ovseg.v1.Segmentation", serving);
}

bool OvsegServer::WaitUntilServing(absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (state_.Get() == ServingState::kServing) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return state_.Get() == ServingState::kServing;
}

absl::Status OvsegServer::warmup_status() const {
  absl::MutexLock lock(&mu_);
  return warmup_status_;
}

void OvsegServer::Shutdown(absl::Duration grace) {
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  const absl::Time deadline = absl::Now() + grace;
  state_.AnnounceDrain();
  SetHealth(false);
  // Warm-up first: it may be catching up on the watched directory through watcher_.
  if (warmup_thread_.joinable()) warmup_thread_.join();
  watcher_.reset();  // no activation may start while draining
  // GOAWAY first: clients send their next calls to other replicas without seeing an
  // error, and a call that races the GOAWAY is still accepted and served. Refusing new
  // calls with UNAVAILABLE while the connections stayed open (what this did before) showed
  // every rollout to clients as errors. gRPC's Shutdown returns once every call has
  // finished; it cancels what still runs at the deadline.
  std::thread stopper;
  if (server_ != nullptr) {
    stopper = std::thread([this, deadline] { server_->Shutdown(absl::ToChronoTime(deadline)); });
  }
  state_.WaitIdle(deadline);
  // Past the grace period, or idle: calls that arrive now are refused, queued work and
  // queued activations are answered, so their calls finish and Shutdown above returns.
  state_.Set(ServingState::kDraining);
  if (models_ != nullptr) models_->Shutdown();
  if (processor_ != nullptr) processor_->Shutdown();
  if (frontend_ != nullptr) frontend_->Shutdown();
  // Every HTTP call in flight has been answered by now (the processor's shutdown answers
  // what was queued); closing the port also ends idle keep-alive connections.
  if (http_ != nullptr) http_->Stop();
  if (stopper.joinable()) stopper.join();
  if (server_ != nullptr) server_->Wait();
  exposer_.reset();
}

OvsegServer::~OvsegServer() { Shutdown(absl::ZeroDuration()); }

}  // namespace ovseg
