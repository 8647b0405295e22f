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
  if (!options.pipeline || !options.text_encoder) {
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
  const v1::ServerConfig& c = options_.config;
  log_ = std::make_unique<RequestLog>(options_.request_log);
  model_ = std::make_unique<ModelHandle>(options_.pipeline, options_.text_encoder);
  metrics_.SetModelVersion(options_.pipeline->Info().model_version);

  VocabularyCacheOptions cache_options;
  cache_options.max_bytes = c.vocabulary().cache_max_bytes();
  cache_options.prompt_templates.assign(c.vocabulary().prompt_templates().begin(),
                                        c.vocabulary().prompt_templates().end());
  cache_options.text_encoder_batch_size =
      static_cast<int>(c.vocabulary().text_encoder_batch_size());
  cache_ = std::make_unique<VocabularyCache>(cache_options, options_.text_encoder);
  registry_ = std::make_unique<VocabularyRegistry>(10000);
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
  p.io_threads = c.io_threads() > 0 ? static_cast<int>(c.io_threads())
                                    : std::max(1u, std::thread::hardware_concurrency());
  absl::StatusOr<std::unique_ptr<SegmentProcessor>> processor =
      SegmentProcessor::Create(p, model_.get(), cache_.get(), &metrics_, options_.clock);
  if (!processor.ok()) return processor.status();
  processor_ = *std::move(processor);

  CheckpointStoreOptions store_options;
  store_options.directory = c.admin().checkpoint_dir();
  store_options.max_bytes = c.admin().max_checkpoint_bytes();
  store_options.keep_last = static_cast<int>(c.admin().keep_last());
  if (options_.checkpoint_loader) {
    store_options.validate = [loader = options_.checkpoint_loader](const std::string& path) {
      return loader(path).status();
    };
  }
  absl::StatusOr<std::unique_ptr<CheckpointStore>> store = CheckpointStore::Create(store_options);
  if (!store.ok()) return store.status();
  checkpoints_ = *std::move(store);
  std::string token;
  if (!c.admin().token_file().empty()) {
    absl::StatusOr<std::string> t = ReadFile(c.admin().token_file(), "admin.token_file");
    if (!t.ok()) return t.status();
    token = std::string(absl::StripAsciiWhitespace(*t));
    if (token.size() < 16) {
      return absl::InvalidArgumentError("admin.token_file: token shorter than 16 characters");
    }
  }
  CheckpointActivator activator = options_.activator;
  if (options_.checkpoint_loader) {
    swapper_ = std::make_unique<ModelSwapper>(
        options_.checkpoint_loader,
        [this](const StandbyModel& standby) {
          return options_.config.model().skip_warmup()
                     ? absl::OkStatus()
                     : processor_->WarmUp(standby.pipeline, standby.text_encoder);
        },
        model_.get(), cache_.get());
    activator = [this](const std::string& path) { return swapper_->Activate(path); };
  }
  if (!activator) {
    activator = [](const std::string&) -> absl::StatusOr<std::string> {
      return absl::FailedPreconditionError(
          "the serving model cannot load checkpoints (no activator configured)");
    };
  }
  admin_service_ = std::make_unique<AdminService>(token, checkpoints_.get(), activator, &metrics_);
  if (!c.admin().watch_dir().empty()) {
    CheckpointWatcherOptions w;
    w.directory = c.admin().watch_dir();
    w.interval = absl::Seconds(c.admin().watch_interval_seconds());
    w.activate = [this, activator](const std::string& name,
                                   const std::string& path) -> absl::StatusOr<std::string> {
      absl::StatusOr<std::string> version = activator(path);
      if (version.ok()) checkpoints_->SetActive(name);
      metrics_.RecordCheckpointEvent(version.ok() ? CheckpointEvent::kSwap
                                                  : CheckpointEvent::kFailure);
      return version;
    };
    w.report = [this](const std::string& name, const absl::Status& outcome) {
      log_->Log("admin.watch_dir", name, outcome, {});
    };
    absl::StatusOr<std::unique_ptr<CheckpointWatcher>> watcher =
        CheckpointWatcher::Create(std::move(w), checkpoints_.get());
    if (!watcher.ok()) return watcher.status();
    watcher_ = *std::move(watcher);
  }
  segmentation_service_ = std::make_unique<SegmentationService>(SegmentationServiceDeps{
      &options_.config, processor_.get(), cache_.get(), registry_.get(), model_.get(), &metrics_,
      log_.get(), &state_, options_.clock, memory_.get()});

  // Pull-style metrics, read at scrape time.
  metrics_.AddGaugeCallback("ovseg_queue_depth",
                            "Segment requests waiting for decode or the model.",
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

  if (!c.metrics_address().empty() && c.metrics_address() != "none") {
    try {
      exposer_ = std::make_unique<prometheus::Exposer>(c.metrics_address());
    } catch (const std::exception& e) {
      return absl::UnavailableError(
          absl::StrCat("metrics_address ", c.metrics_address(), ": ", e.what()));
    }
    for (const auto& collectable : metrics_.collectables())
      exposer_->RegisterCollectable(collectable);
    const auto ports = exposer_->GetListeningPorts();
    metrics_port_ = ports.empty() ? 0 : ports.front();
  }

  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = Credentials(c.tls());
  if (!creds.ok()) return creds.status();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(c.listen_address(), *creds, &port_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(c.limits().max_receive_message_bytes()));
  builder.SetMaxSendMessageSize(-1);
  builder.RegisterService(segmentation_service_.get());
  builder.RegisterService(admin_service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", c.listen_address()));
  }
  SetHealth(false);

  warmup_thread_ = std::thread([this] {
    absl::Status s =
        options_.config.model().skip_warmup() ? absl::OkStatus() : processor_->WarmUp();
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
  return absl::OkStatus();
}

void OvsegServer::SetHealth(bool serving) {
  if (server_ == nullptr) return;
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus(serving);
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
  state_.Set(ServingState::kDraining);
  SetHealth(false);
  watcher_.reset();  // no activation may start while draining
  if (warmup_thread_.joinable()) warmup_thread_.join();
  // Requests already accepted finish normally; new ones are refused with UNAVAILABLE.
  state_.WaitIdle(absl::Now() + grace);
  if (server_ != nullptr) {
    // Whatever is still running after the grace period is cancelled.
    server_->Shutdown(std::chrono::system_clock::now());
  }
  if (processor_ != nullptr) processor_->Shutdown();
  if (segmentation_service_ != nullptr) segmentation_service_->Shutdown();
  if (server_ != nullptr) server_->Wait();
  exposer_.reset();
}

OvsegServer::~OvsegServer() { Shutdown(absl::ZeroDuration()); }

}  // namespace ovseg
