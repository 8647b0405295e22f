// The FGAseg head inside a trained checkpoint (fovseg_checkpoint.h): its serving tensors
// under "fgaseg." (every parameter and buffer but the T2P branch's, which only training
// uses, as the FiSeR predictor stays out) and its configuration as JSON in the
// "fgaseg_config" metadata (FgaSegConfigJson, checkpoint_metadata.h). A checkpoint without them has
// no dense head: the server then offers MASK mode only.
#ifndef OVSEG_MODEL_SERVING_FGASEG_CHECKPOINT_H_
#define OVSEG_MODEL_SERVING_FGASEG_CHECKPOINT_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "model/fgaseg/fgaseg_head.h"
#include "model/serving/fovseg_checkpoint.h"

namespace ovseg {

// The head's serving tensors under their checkpoint names.
std::vector<std::pair<std::string, torch::Tensor>> FgaSegCheckpointTensors(FgaSegHead& head);

// WriteCheckpoint with the head: its tensors and its configuration in the metadata.
absl::Status WriteCheckpointWithFgaSeg(const std::string& path, MaskClassifier& classifier,
                                       FgaSegHead& head, CheckpointMetadata metadata);

// The checkpoint's head, built from its configuration and loaded (nullopt when it has
// none). Every missing, unexpected or mis-shaped "fgaseg." tensor is named. `top_k`, when
// given, replaces the stored Top-K (an inference knob that no tensor depends on).
absl::StatusOr<std::optional<FgaSegHead>> LoadFgaSegHead(
    const Checkpoint& checkpoint, std::optional<int64_t> top_k = std::nullopt);

}  // namespace ovseg

#endif  // OVSEG_MODEL_SERVING_FGASEG_CHECKPOINT_H_
