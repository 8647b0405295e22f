#include "model/train/launch_env.h"

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ovseg {
namespace {

constexpr int kMaxWorldSize = 4096;

// The value of `name` as an integer in [low, high], or an error naming both.
absl::StatusOr<int> IntegerVariable(const char* name, const std::string& value, int low, int high) {
  int parsed = 0;
  if (!absl::SimpleAtoi(value, &parsed) || parsed < low || parsed > high) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, "=\"", value, "\": not an integer in ", low, "..", high));
  }
  return parsed;
}

}  // namespace

std::optional<std::string> ProcessEnvironment(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

absl::StatusOr<LaunchEnv> ReadLaunchEnv(const EnvLookup& env) {
  LaunchEnv launch;
  const std::optional<std::string> world = env("WORLD_SIZE");
  if (!world) return launch;
  absl::StatusOr<int> world_size = IntegerVariable("WORLD_SIZE", *world, 1, kMaxWorldSize);
  if (!world_size.ok()) return world_size.status();
  launch.world_size = *world_size;
  if (launch.world_size == 1) return launch;

  const char* rank_name = "RANK";
  std::optional<std::string> rank = env(rank_name);
  if (!rank) {
    rank_name = "JOB_COMPLETION_INDEX";
    rank = env(rank_name);
  }
  if (!rank) {
    return absl::InvalidArgumentError(
        absl::StrCat("WORLD_SIZE=", launch.world_size,
                     " but neither RANK nor JOB_COMPLETION_INDEX says which rank this process is"));
  }
  absl::StatusOr<int> r = IntegerVariable(rank_name, *rank, 0, launch.world_size - 1);
  if (!r.ok()) return r.status();
  launch.rank = *r;

  const std::optional<std::string> addr = env("MASTER_ADDR");
  if (!addr || addr->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("WORLD_SIZE=", launch.world_size, " needs MASTER_ADDR, the host of rank 0"));
  }
  launch.master_addr = *addr;
  const std::optional<std::string> port = env("MASTER_PORT");
  if (!port) {
    return absl::InvalidArgumentError(absl::StrCat("WORLD_SIZE=", launch.world_size,
                                                   " needs MASTER_PORT, rank 0's rendezvous port"));
  }
  absl::StatusOr<int> p = IntegerVariable("MASTER_PORT", *port, 1, 65535);
  if (!p.ok()) return p.status();
  launch.master_port = *p;
  return launch;
}

}  // namespace ovseg
