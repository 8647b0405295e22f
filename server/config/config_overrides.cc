#include "server/config/config_overrides.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/client_text.h"

namespace ovseg {
namespace {

absl::Status CheckPort(const char* name, int port) {
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": port ", port, " outside [0, 65535]"));
  }
  return absl::OkStatus();
}

// "host:port" with the port replaced; an address without a colon gets one.
std::string WithPort(const std::string& address, int port) {
  const size_t colon = address.rfind(':');
  const std::string host = colon == std::string::npos ? address : address.substr(0, colon);
  return absl::StrCat(host, ":", port);
}

}  // namespace

absl::StatusOr<ConfigOverrides> ConfigOverridesFromEnvironment(
    const std::function<const char*(const char*)>& getenv) {
  ConfigOverrides o;
  auto text = [&](const char* name) -> std::optional<std::string> {
    const char* v = getenv(name);
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
  o.listen_address = text("OVSEG_LISTEN_ADDRESS");
  o.metrics_address = text("OVSEG_METRICS_ADDRESS");
  o.http_address = text("OVSEG_HTTP_ADDRESS");
  for (auto [name, field] : {std::pair{"OVSEG_PORT", &o.port},
                             {"OVSEG_METRICS_PORT", &o.metrics_port},
                             {"OVSEG_HTTP_PORT", &o.http_port}}) {
    if (const std::optional<std::string> v = text(name)) {
      int port = 0;
      if (!absl::SimpleAtoi(*v, &port)) {
        return absl::InvalidArgumentError(
            absl::StrCat(name, ": ", QuoteClientText(*v), " is not a port number"));
      }
      if (absl::Status s = CheckPort(name, port); !s.ok()) return s;
      *field = port;
    }
  }
  if (const std::optional<std::string> v = text("OVSEG_ALLOW_INSECURE_NON_LOOPBACK")) {
    bool allow = false;
    if (!absl::SimpleAtob(*v, &allow)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "OVSEG_ALLOW_INSECURE_NON_LOOPBACK: ", QuoteClientText(*v), " is not true or false"));
    }
    o.allow_insecure_non_loopback = allow;
  }
  return o;
}

ConfigOverrides Merge(const ConfigOverrides& low, const ConfigOverrides& high) {
  ConfigOverrides m = low;
  if (high.listen_address) m.listen_address = high.listen_address;
  if (high.metrics_address) m.metrics_address = high.metrics_address;
  if (high.port) m.port = high.port;
  if (high.metrics_port) m.metrics_port = high.metrics_port;
  if (high.http_address) m.http_address = high.http_address;
  if (high.http_port) m.http_port = high.http_port;
  if (high.allow_insecure_non_loopback) {
    m.allow_insecure_non_loopback = high.allow_insecure_non_loopback;
  }
  return m;
}

absl::Status ApplyConfigOverrides(const ConfigOverrides& o, v1::ServerConfig* config) {
  if (o.listen_address) config->set_listen_address(*o.listen_address);
  if (o.metrics_address) config->set_metrics_address(*o.metrics_address);
  if (o.port) {
    if (absl::Status s = CheckPort("port", *o.port); !s.ok()) return s;
    config->set_listen_address(WithPort(config->listen_address(), *o.port));
  }
  if (o.metrics_port) {
    if (absl::Status s = CheckPort("metrics_port", *o.metrics_port); !s.ok()) return s;
    // "none" (no exposer) stays none: a port does not turn metrics on.
    if (config->metrics_address() != "none") {
      config->set_metrics_address(WithPort(config->metrics_address(), *o.metrics_port));
    }
  }
  if (o.http_address) config->set_http_address(*o.http_address);
  if (o.http_port) {
    if (absl::Status s = CheckPort("http_port", *o.http_port); !s.ok()) return s;
    // No HTTP port stays none: a port does not turn the gateway on.
    if (!config->http_address().empty() && config->http_address() != "none") {
      config->set_http_address(WithPort(config->http_address(), *o.http_port));
    }
  }
  if (o.allow_insecure_non_loopback) {
    config->set_allow_insecure_non_loopback(*o.allow_insecure_non_loopback);
  }
  return absl::OkStatus();
}

}  // namespace ovseg
