// Loads ServerConfig text protos, fills documented defaults and validates ranges.
#ifndef OVSEG_SERVER_CONFIG_CONFIG_LOADER_H_
#define OVSEG_SERVER_CONFIG_CONFIG_LOADER_H_

#include <string>

#include "absl/status/statusor.h"
#include "ovseg/v1/config.pb.h"

namespace ovseg {

// Parses text proto; errors name the file, line and column.
absl::StatusOr<v1::ServerConfig> ParseServerConfig(const std::string& text,
                                                   const std::string& source_name);
absl::StatusOr<v1::ServerConfig> LoadServerConfigFile(const std::string& path);

// Replaces unset (zero) fields by the defaults documented in config.proto.
void ApplyConfigDefaults(v1::ServerConfig* config);

// Checks ranges and combinations; errors name the field.
absl::Status ValidateServerConfig(const v1::ServerConfig& config);

// True for "127.0.0.1:P", "localhost:P", "[::1]:P" and other 127/8 addresses.
bool IsLoopbackAddress(const std::string& host_port);

}  // namespace ovseg

#endif  // OVSEG_SERVER_CONFIG_CONFIG_LOADER_H_
