// ovseg-server: loads a config, builds the serving model it names, serves until SIGTERM or
// SIGINT, then drains for the configured grace period.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "model/runtime/torch_runtime.h"
#include "model/serving/model_factory.h"
#include "server/common/cpu_quota.h"
#include "server/common/process_tuning.h"
#include "server/config/config_loader.h"
#include "server/config/config_overrides.h"
#include "server/config/prompt_template_check.h"
#include "server/ovseg_server.h"

ABSL_FLAG(std::string, config, "configs/server.pbtxt", "ServerConfig text proto");
// Each overrides the config file and its environment variable
// (server/config/config_overrides.h); unset (the defaults below) leaves them alone.
ABSL_FLAG(std::string, listen_address, "",
          "gRPC listen address host:port (env OVSEG_LISTEN_ADDRESS)");
ABSL_FLAG(std::string, metrics_address, "",
          "Prometheus /metrics address host:port, or none (env OVSEG_METRICS_ADDRESS)");
ABSL_FLAG(int, port, -1,
          "Overrides the port of listen_address; 0 picks a free one (env OVSEG_PORT)");
ABSL_FLAG(int, metrics_port, -1, "Overrides the port of metrics_address (env OVSEG_METRICS_PORT)");
ABSL_FLAG(std::string, http_address, "",
          "HTTP/JSON gateway and playground address host:port, or none (env OVSEG_HTTP_ADDRESS)");
ABSL_FLAG(int, http_port, -1, "Overrides the port of http_address (env OVSEG_HTTP_PORT)");
ABSL_FLAG(std::string, allow_insecure_non_loopback, "",
          "true: listen on a non-loopback address without TLS (a mesh or a trusted network "
          "terminates it); env OVSEG_ALLOW_INSECURE_NON_LOOPBACK");

namespace {

absl::StatusOr<ovseg::ConfigOverrides> FlagOverrides() {
  ovseg::ConfigOverrides o;
  if (const std::string v = absl::GetFlag(FLAGS_listen_address); !v.empty()) o.listen_address = v;
  if (const std::string v = absl::GetFlag(FLAGS_metrics_address); !v.empty()) {
    o.metrics_address = v;
  }
  if (absl::GetFlag(FLAGS_port) >= 0) o.port = absl::GetFlag(FLAGS_port);
  if (absl::GetFlag(FLAGS_metrics_port) >= 0) o.metrics_port = absl::GetFlag(FLAGS_metrics_port);
  if (const std::string v = absl::GetFlag(FLAGS_http_address); !v.empty()) o.http_address = v;
  if (absl::GetFlag(FLAGS_http_port) >= 0) o.http_port = absl::GetFlag(FLAGS_http_port);
  if (const std::string v = absl::GetFlag(FLAGS_allow_insecure_non_loopback); !v.empty()) {
    bool allow = false;
    if (!absl::SimpleAtob(v, &allow)) {
      return absl::InvalidArgumentError("--allow_insecure_non_loopback: expected true or false");
    }
    o.allow_insecure_non_loopback = allow;
  }
  return o;
}

int Fail(const absl::Status& status) {
  std::cerr << "ovseg-server: " << status << "\n";
  return 1;
}

// Served with other templates than it was trained with, a checkpoint still works, but its
// scores are not the ones its evaluation measured: worth an operator's look.
void WarnOnTemplateMismatch(const std::string& checkpoint, const ovseg::ServingModel& model,
                            const ovseg::v1::VocabularyConfig& vocabulary) {
  const std::string mismatch =
      ovseg::PromptTemplateMismatch(model.training_prompt_templates, vocabulary);
  if (!mismatch.empty()) {
    std::cerr << "ovseg-server: warning: " << checkpoint << ": " << mismatch << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  ovseg::ApplyServingProcessTuning();
  // Signals are taken by a sigwait below, not by an async handler, so shutdown runs as
  // ordinary code.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<ovseg::v1::ServerConfig> config =
      ovseg::LoadServerConfigFile(absl::GetFlag(FLAGS_config));
  if (!config.ok()) return Fail(config.status());
  absl::StatusOr<ovseg::ConfigOverrides> from_env =
      ovseg::ConfigOverridesFromEnvironment([](const char* name) { return std::getenv(name); });
  if (!from_env.ok()) return Fail(from_env.status());
  absl::StatusOr<ovseg::ConfigOverrides> from_flags = FlagOverrides();
  if (!from_flags.ok()) return Fail(from_flags.status());
  if (absl::Status s = ovseg::ApplyConfigOverrides(ovseg::Merge(*from_env, *from_flags), &*config);
      !s.ok()) {
    return Fail(s);
  }
  if (absl::Status s = ovseg::ValidateServerConfig(*config); !s.ok()) return Fail(s);
  // LibTorch sizes its pool by the node's cores; in a pod with a CPU limit that is far
  // more threads than CPUs. The CPUs are shared out among the batch threads, whose model
  // calls run side by side. OMP_NUM_THREADS, if set, still decides.
  if (std::getenv("OMP_NUM_THREADS") == nullptr) {
    ovseg::SetIntraOpThreads(ovseg::IntraOpThreadsPerCall(
        ovseg::AvailableCpus(), static_cast<int>(config->batching().num_batch_threads())));
  }
  // Before LibTorch, gRPC and the server start their threads, so that all inherit it.
  if (absl::Status s = ovseg::SetProcessCpuPolicy(
          config->cpu_scheduling() == ovseg::v1::CPU_SCHEDULING_NORMAL ? ovseg::CpuPolicy::kNormal
                                                                       : ovseg::CpuPolicy::kBatch);
      !s.ok()) {
    // A tuning, not a correctness matter: serve anyway, and say so.
    std::cerr << "ovseg-server: warning: cpu_scheduling not applied: " << s << "\n";
  }

  const ovseg::TorchRuntimeInfo torch = ovseg::DescribeTorchRuntime();
  std::cerr << "ovseg-server: LibTorch " << torch.version << ", " << torch.intra_op_threads
            << " CPU threads, " << torch.cuda_device_count << " CUDA device(s)\n";
  // The base weights stay loaded for the life of the process: every checkpoint swap
  // builds its standby model on them.
  absl::StatusOr<std::unique_ptr<ovseg::ServingModelLoader>> loader =
      ovseg::ServingModelLoader::Create(config->model());
  if (!loader.ok()) return Fail(loader.status());
  absl::StatusOr<ovseg::ServingModel> model = (*loader)->Build(config->model().checkpoint());
  if (!model.ok()) return Fail(model.status());
  WarnOnTemplateMismatch(config->model().checkpoint(), *model, config->vocabulary());

  ovseg::OvsegServerOptions options;
  options.config = *config;
  options.device_memory = [] {
    std::vector<ovseg::OvsegServerOptions::DeviceMemoryReading> readings;
    for (const ovseg::DeviceMemory& m : ovseg::CudaDeviceMemory()) {
      readings.push_back({absl::StrCat("cuda:", m.device), static_cast<double>(m.allocated),
                          static_cast<double>(m.reserved), static_cast<double>(m.peak_allocated)});
    }
    return readings;
  };
  options.model = *std::move(model);
  const ovseg::ServingModelLoader* base = loader->get();
  const ovseg::v1::VocabularyConfig vocabulary = config->vocabulary();
  options.checkpoint_loader =
      [base, vocabulary](const std::string& path) -> absl::StatusOr<ovseg::ServingModel> {
    absl::StatusOr<ovseg::ServingModel> standby = base->Build(path);
    if (standby.ok()) WarnOnTemplateMismatch(path, *standby, vocabulary);
    return standby;
  };
  absl::StatusOr<std::unique_ptr<ovseg::OvsegServer>> server =
      ovseg::OvsegServer::Start(std::move(options));
  if (!server.ok()) return Fail(server.status());
  std::cerr << "ovseg-server: listening on port " << (*server)->port() << ", metrics on port "
            << (*server)->metrics_port() << ", HTTP on port " << (*server)->http_port() << "\n";

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  std::cerr << "ovseg-server: signal " << signal_number << ", draining\n";
  (*server)->Shutdown(absl::Seconds(config->shutdown_grace_seconds()));
  return 0;
}
