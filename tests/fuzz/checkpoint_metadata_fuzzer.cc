// libFuzzer target for a checkpoint's self-description (model/serving/checkpoint_metadata.h):
// the input is a safetensors header whose "__metadata__" goes through the checkpoint
// parser, and separately an FGAseg configuration. Any bytes must give a result or an
// error, never a crash, hang or sanitizer report. Built with clang by scripts/fuzz.sh; the
// gcc build links it into checkpoint_metadata_fuzz_replay_test instead.
#include <cstddef>
#include <cstdint>

#include "model/safetensors/safetensors_header.h"
#include "model/serving/checkpoint_metadata.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<ovseg::SafetensorsHeader> header = ovseg::ParseSafetensorsHeader(bytes, size);
  if (header.ok()) {
    absl::StatusOr<ovseg::CheckpointMetadata> metadata =
        ovseg::ParseCheckpointMetadata(header->metadata, "fuzz");
    // What was accepted writes back to entries that parse again.
    if (metadata.ok()) {
      auto entries = ovseg::CheckpointMetadataEntries(*metadata);
      if (!entries.ok() || !ovseg::ParseCheckpointMetadata(*entries, "again").ok())
        __builtin_trap();
    }
  }
  (void)ovseg::ParseFgaSegConfigJson(bytes);
  return 0;
}
