// ovseg-server: loads a config, builds the serving model it names, serves until SIGTERM or
// SIGINT, then drains for the configured grace period.
#include <csignal>
#include <cstdio>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "model/runtime/torch_runtime.h"
#include "model/serving/model_factory.h"
#include "server/common/process_tuning.h"
#include "server/config/config_loader.h"
#include "server/config/prompt_template_check.h"
#include "server/ovseg_server.h"

ABSL_FLAG(std::string, config, "configs/server.pbtxt", "ServerConfig text proto");
ABSL_FLAG(int, port, -1, "Overrides the port of listen_address (0 picks a free one)");
ABSL_FLAG(int, metrics_port, -1, "Overrides the port of metrics_address");

namespace {

std::string WithPort(const std::string& address, int port) {
  if (port < 0) return address;
  const size_t colon = address.rfind(':');
  return absl::StrCat(address.substr(0, colon), ":", port);
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
  config->set_listen_address(WithPort(config->listen_address(), absl::GetFlag(FLAGS_port)));
  config->set_metrics_address(
      WithPort(config->metrics_address(), absl::GetFlag(FLAGS_metrics_port)));
  if (absl::Status s = ovseg::ValidateServerConfig(*config); !s.ok()) return Fail(s);
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
            << (*server)->metrics_port() << "\n";

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  std::cerr << "ovseg-server: signal " << signal_number << ", draining\n";
  (*server)->Shutdown(absl::Seconds(config->shutdown_grace_seconds()));
  return 0;
}
