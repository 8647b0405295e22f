// Where this process sits in a data-parallel training job, read from the environment the
// way the launchers describe it: torchrun (and Kubeflow's PyTorchJob) set RANK,
// WORLD_SIZE, MASTER_ADDR and MASTER_PORT; a Kubernetes Indexed Job sets only
// JOB_COMPLETION_INDEX, which serves as the rank when RANK is absent. Without WORLD_SIZE
// (or with WORLD_SIZE=1) the job is one process and nothing else is read.
#ifndef OVSEG_MODEL_TRAIN_LAUNCH_ENV_H_
#define OVSEG_MODEL_TRAIN_LAUNCH_ENV_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace ovseg {

struct LaunchEnv {
  int rank = 0;
  int world_size = 1;
  std::string master_addr;  // host of rank 0, which runs the rendezvous store
  int master_port = 0;
  bool distributed() const { return world_size > 1; }
};

// Reads a variable; nullopt when unset. The default reads the process environment.
using EnvLookup = std::function<std::optional<std::string>(const char* name)>;
std::optional<std::string> ProcessEnvironment(const char* name);

// Every malformed or missing value is an InvalidArgument naming the variable and its value.
absl::StatusOr<LaunchEnv> ReadLaunchEnv(const EnvLookup& env = ProcessEnvironment);

}  // namespace ovseg

#endif  // OVSEG_MODEL_TRAIN_LAUNCH_ENV_H_
