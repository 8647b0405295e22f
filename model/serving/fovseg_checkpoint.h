// Trained FOV-Seg checkpoints (docs/design.md, "Formats"): a small safetensors file holding only
// the trained tensors, under "classifier." the TeVA classifier's own parameters (TeVA,
// adapter, void embedding, per-block f_q; never CLIP's frozen weights, never the FiSeR
// predictor), with __metadata__ saying what they were trained on and for
// (checkpoint_metadata.h, which parses it without LibTorch).
#ifndef OVSEG_MODEL_SERVING_FOVSEG_CHECKPOINT_H_
#define OVSEG_MODEL_SERVING_FOVSEG_CHECKPOINT_H_

#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/serving/checkpoint_metadata.h"
#include "model/teva/mask_classifier.h"
#include "model/weights/safetensors_file.h"

namespace ovseg {

inline constexpr char kFgaSegCheckpointPrefix[] = "fgaseg.";

// An opened checkpoint: metadata parsed and checked, tensors still memory-mapped.
struct Checkpoint {
  CheckpointMetadata metadata;
  std::shared_ptr<SafetensorsFile> file;
};

// The classifier's trained tensors under their checkpoint names ("classifier." + name).
std::vector<std::pair<std::string, torch::Tensor>> ClassifierCheckpointTensors(
    MaskClassifier& classifier);

// Writes the classifier's trained tensors (fp32), any `extra` named tensors (the FGAseg
// head's, from fgaseg_checkpoint.h) and `metadata` atomically.
absl::Status WriteCheckpoint(const std::string& path, MaskClassifier& classifier,
                             const CheckpointMetadata& metadata,
                             const std::vector<std::pair<std::string, torch::Tensor>>& extra = {});

// Opens `path` and parses its metadata; an unknown format or version, or a missing or
// malformed field, is an error naming it.
absl::StatusOr<Checkpoint> OpenCheckpoint(const std::string& path);

// Checks that the checkpoint was trained on these base weights and for this preset
// (FAILED_PRECONDITION naming both fingerprints otherwise).
// `mask_generator_sha256` is "" when the server runs without a generator; a checkpoint
// that names a generator is then still accepted (its classifier serves client regions).
absl::Status CheckCheckpointBase(const CheckpointMetadata& metadata, const std::string& preset,
                                 const std::string& clip_sha256,
                                 const std::string& mask_generator_sha256 = "");

// Copies the checkpoint's tensors into `classifier` (built with metadata.classifier),
// converting to each parameter's dtype and device. Every missing, unexpected or
// mis-shaped tensor is named; nothing is modified unless all of them match. The FGAseg
// head's tensors ("fgaseg.") are LoadFgaSegHead's to check.
absl::Status LoadCheckpointInto(const Checkpoint& checkpoint, MaskClassifier& classifier);

}  // namespace ovseg

#endif  // OVSEG_MODEL_SERVING_FOVSEG_CHECKPOINT_H_
