// What a trained FOV-Seg checkpoint (fovseg_checkpoint.h) says about itself: the
// safetensors "__metadata__" strings, parsed and checked. An uploaded checkpoint is
// untrusted input, so this parser is LibTorch-free and fuzzed on its own
// (tests/fuzz/checkpoint_metadata_fuzzer.cc), and every size it accepts is bounded before
// a model is built from it: a checkpoint names its sizes, and building a module of absurd
// size would be an allocation the kernel ends the process for, not an error.
// The entries (docs/design.md, "Formats"):
//   format            "ovseg-checkpoint"
//   format_version    "1"
//   preset            model preset, e.g. "fovseg-vit-b16"
//   clip_sha256       ClipWeightsFingerprint of the base CLIP
//   mask_generator_sha256   of the frozen generator ("" when regions-only)
//   classifier_config JSON: use_teva, teva_residual, use_adapter, adapter_hidden,
//                     temperature
//   step              training step
//   training_vocabulary  JSON array of the labels seen in training (seen vs unseen)
//   prompt_templates  optional JSON array: the templates training embedded classes with
//   eval_metrics      JSON object of validation figures
//   fgaseg_config     optional, JSON FgaSegConfig: present when the file also holds the
//                     FGAseg head's tensors under "fgaseg." (fgaseg_checkpoint.h)
// Stateless; thread-safe.
#ifndef OVSEG_MODEL_SERVING_CHECKPOINT_METADATA_H_
#define OVSEG_MODEL_SERVING_CHECKPOINT_METADATA_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/fgaseg/fgaseg_config.h"
#include "model/teva/mask_classifier_config.h"

namespace ovseg {

inline constexpr char kCheckpointFormat[] = "ovseg-checkpoint";
inline constexpr int kCheckpointFormatVersion = 1;

struct CheckpointMetadata {
  int format_version = kCheckpointFormatVersion;
  std::string preset;
  std::string clip_sha256;
  std::string mask_generator_sha256;
  MaskClassifierConfig classifier;
  int64_t step = 0;
  std::vector<std::string> training_vocabulary;
  // The prompt templates the training embedded classes with (empty: not recorded, from
  // before the field existed); serve with the same vocabulary.prompt_templates.
  std::vector<std::string> prompt_templates;
  std::string eval_metrics_json = "{}";
  std::string fgaseg_config_json;  // "" when the checkpoint has no FGAseg head
};

// Bounds on the sizes a checkpoint may ask for. They admit every configuration the
// public CLIPs (up to ViT-bigG, width 1664) and the paper's heads use, and keep the
// largest head a checkpoint can describe near a gigabyte.
inline constexpr int64_t kMaxAdapterHidden = 4096;
inline constexpr double kMaxClassifierTemperature = 1e4;
inline constexpr int64_t kMaxFgaSegWidth = 2048;  // every channel width of the head
inline constexpr int64_t kMaxFgaSegLayers = 8;    // aggregation and P2T layers
inline constexpr int64_t kMaxFgaSegHeads = 64;
inline constexpr int64_t kMaxFgaSegKernel = 15;
inline constexpr int64_t kMaxFgaSegWindow = 64;
inline constexpr int64_t kMaxFgaSegPadLength = 4096;
inline constexpr int64_t kMaxFgaSegGuidanceLayer = 127;

// The metadata as safetensors "__metadata__" entries; INVALID_ARGUMENT when
// eval_metrics_json is not JSON.
absl::StatusOr<std::map<std::string, std::string>> CheckpointMetadataEntries(
    const CheckpointMetadata& metadata);

// Parses and checks `entries`; an unknown format or version, or a missing, malformed or
// out-of-bounds field, is INVALID_ARGUMENT naming `source` (e.g. the file's path) and the
// field, quoting at most a bounded prefix of its value.
absl::StatusOr<CheckpointMetadata> ParseCheckpointMetadata(
    const std::map<std::string, std::string>& entries, absl::string_view source);

// The FGAseg head's configuration as the "fgaseg_config" JSON, and back. The parser checks
// every field's range (the bounds above, positive sizes, heads dividing the widths they
// split, two guidance layers and two decoder stages) so that a head built from its result
// cannot fail on its sizes.
std::string FgaSegConfigJson(const FgaSegConfig& config);
absl::StatusOr<FgaSegConfig> ParseFgaSegConfigJson(absl::string_view json);

}  // namespace ovseg

#endif  // OVSEG_MODEL_SERVING_CHECKPOINT_METADATA_H_
