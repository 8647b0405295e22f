// libFuzzer target for the safetensors header parser: any byte string must give a header
// or an error, never a crash, hang or sanitizer report. Built with clang by
// scripts/fuzz.sh; the gcc build links it into safetensors_header_fuzz_replay_test instead.
#include <cstddef>
#include <cstdint>

#include "model/safetensors/safetensors_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  // The file size is taken from the input itself and, separately, claimed larger than the
  // bytes at hand (as when only a prefix was read).
  (void)ovseg::ParseSafetensorsHeader(bytes, size);
  (void)ovseg::ParseSafetensorsHeader(bytes, size + 4096);
  return 0;
}
