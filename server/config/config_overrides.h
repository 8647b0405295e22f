// What a deployment changes without editing the config file: the gRPC, HTTP and metrics
// addresses and ports, and whether a non-loopback address may listen without TLS, each
// settable by flag and by environment variable (a container image bakes one config file
// and its users set `docker run -e` or a pod's env; see docs/deploy.md). A flag wins over
// its variable, a variable over the file. The config is validated after the overrides.
#ifndef OVSEG_SERVER_CONFIG_CONFIG_OVERRIDES_H_
#define OVSEG_SERVER_CONFIG_CONFIG_OVERRIDES_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ovseg/v1/config.pb.h"

namespace ovseg {

struct ConfigOverrides {
  std::optional<std::string> listen_address;   // OVSEG_LISTEN_ADDRESS, --listen_address
  std::optional<std::string> metrics_address;  // OVSEG_METRICS_ADDRESS, --metrics_address
  std::optional<int> port;                     // OVSEG_PORT, --port (0: any free port)
  std::optional<int> metrics_port;             // OVSEG_METRICS_PORT, --metrics_port
  std::optional<std::string> http_address;     // OVSEG_HTTP_ADDRESS, --http_address
  std::optional<int> http_port;                // OVSEG_HTTP_PORT, --http_port
  // OVSEG_ALLOW_INSECURE_NON_LOOPBACK ("true"/"false"), --allow_insecure_non_loopback
  std::optional<bool> allow_insecure_non_loopback;
};

// The overrides the environment sets, read through `getenv` (std::getenv in the server;
// tests pass a map). An unparsable value is an error naming the variable.
absl::StatusOr<ConfigOverrides> ConfigOverridesFromEnvironment(
    const std::function<const char*(const char*)>& getenv);

// `high` where set, else `low`.
ConfigOverrides Merge(const ConfigOverrides& low, const ConfigOverrides& high);

// Applies `o` to `config`: addresses first, then ports (the port of the resulting address
// is replaced). Ports must be in [0, 65535].
absl::Status ApplyConfigOverrides(const ConfigOverrides& o, v1::ServerConfig* config);

}  // namespace ovseg

#endif  // OVSEG_SERVER_CONFIG_CONFIG_OVERRIDES_H_
