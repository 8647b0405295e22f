// libFuzzer target: the server configuration (text proto, defaults, validation). An
// operator's file, but parsed before anything else runs: it must never crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/config/config_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)ovseg::ParseServerConfig(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
  return 0;
}
