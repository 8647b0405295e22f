#include "model/serving/fgaseg_checkpoint.h"

#include "absl/strings/str_cat.h"
#include "model/weights/strict_tensor_copy.h"

namespace ovseg {
namespace {

// The T2P branch ("proj.") trains the head but never serves.
bool IsServingTensor(const std::string& name) { return name.rfind("proj.", 0) != 0; }

}  // namespace

std::vector<std::pair<std::string, torch::Tensor>> FgaSegCheckpointTensors(FgaSegHead& head) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& p : head->named_parameters()) {
    if (IsServingTensor(p.key()))
      tensors.emplace_back(kFgaSegCheckpointPrefix + p.key(), p.value());
  }
  for (const auto& b : head->named_buffers()) {
    if (IsServingTensor(b.key()))
      tensors.emplace_back(kFgaSegCheckpointPrefix + b.key(), b.value());
  }
  return tensors;
}

absl::Status WriteCheckpointWithFgaSeg(const std::string& path, MaskClassifier& classifier,
                                       FgaSegHead& head, CheckpointMetadata metadata) {
  metadata.fgaseg_config_json = FgaSegConfigJson(head->config());
  return WriteCheckpoint(path, classifier, metadata, FgaSegCheckpointTensors(head));
}

absl::StatusOr<std::optional<FgaSegHead>> LoadFgaSegHead(const Checkpoint& checkpoint,
                                                         std::optional<int64_t> top_k) {
  const SafetensorsFile& file = *checkpoint.file;
  if (checkpoint.metadata.fgaseg_config_json.empty()) {
    for (const std::string& name : file.Names()) {
      if (name.rfind(kFgaSegCheckpointPrefix, 0) == 0) {
        return absl::InvalidArgumentError(absl::StrCat("checkpoint ", file.path(), " holds ", name,
                                                       " but no fgaseg_config metadata"));
      }
    }
    return std::optional<FgaSegHead>();
  }
  absl::StatusOr<FgaSegConfig> config =
      ParseFgaSegConfigJson(checkpoint.metadata.fgaseg_config_json);
  if (!config.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint ", file.path(), ": ", config.status().message()));
  }
  if (top_k) config->top_k = *top_k;
  FgaSegHead head(*config);
  if (absl::Status s = CopyStoredTensorsStrict(
          file, FgaSegCheckpointTensors(head),
          [](const std::string& name) { return name.rfind(kFgaSegCheckpointPrefix, 0) == 0; },
          absl::StrCat("checkpoint ", file.path(), " does not fit its FGAseg head"));
      !s.ok()) {
    return s;
  }
  head->eval();
  return std::optional<FgaSegHead>(head);
}

}  // namespace ovseg
