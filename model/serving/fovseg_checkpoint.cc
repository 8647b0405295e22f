#include "model/serving/fovseg_checkpoint.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "common/client_text.h"
#include "common/sha256.h"
#include "model/weights/strict_tensor_copy.h"

namespace ovseg {
namespace {

constexpr char kClassifierPrefix[] = "classifier.";

// A digest from the file as errors show it: bare when it has a digest's form, else
// quoted and bounded (the file is untrusted).
std::string DigestText(const std::string& digest) {
  return IsSha256Hex(digest) ? digest : QuoteClientText(digest);
}

}  // namespace

std::vector<std::pair<std::string, torch::Tensor>> ClassifierCheckpointTensors(
    MaskClassifier& classifier) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& item : classifier->named_parameters(/*recurse=*/true)) {
    if (item.key().rfind("clip.", 0) == 0) continue;  // Frozen base weights stay out.
    tensors.emplace_back(kClassifierPrefix + item.key(), item.value());
  }
  return tensors;
}

absl::Status WriteCheckpoint(const std::string& path, MaskClassifier& classifier,
                             const CheckpointMetadata& m,
                             const std::vector<std::pair<std::string, torch::Tensor>>& extra) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (auto& [name, t] : ClassifierCheckpointTensors(classifier)) {
    tensors.emplace_back(name, t.detach().to(torch::kCPU, torch::kFloat32));
  }
  for (auto& [name, t] : extra) {
    tensors.emplace_back(name, t.detach().to(torch::kCPU, torch::kFloat32));
  }
  absl::StatusOr<std::map<std::string, std::string>> metadata = CheckpointMetadataEntries(m);
  if (!metadata.ok()) return metadata.status();
  return WriteSafetensors(path, tensors, *metadata);
}

absl::StatusOr<Checkpoint> OpenCheckpoint(const std::string& path) {
  absl::StatusOr<std::shared_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  if (!file.ok()) return file.status();
  absl::StatusOr<CheckpointMetadata> metadata =
      ParseCheckpointMetadata((*file)->header().metadata, path);
  if (!metadata.ok()) return metadata.status();
  return Checkpoint{*std::move(metadata), *std::move(file)};
}

absl::Status CheckCheckpointBase(const CheckpointMetadata& m, const std::string& preset,
                                 const std::string& clip_sha256,
                                 const std::string& mask_generator_sha256) {
  if (m.preset != preset) {
    return absl::FailedPreconditionError(absl::StrCat("checkpoint was trained for preset ",
                                                      QuoteClientText(m.preset),
                                                      ", this model is \"", preset, "\""));
  }
  if (m.clip_sha256 != clip_sha256) {
    return absl::FailedPreconditionError(
        absl::StrCat("checkpoint was trained on CLIP weights ", DigestText(m.clip_sha256),
                     ", but the configured model.clip_weights are ", clip_sha256));
  }
  if (!m.mask_generator_sha256.empty() && !mask_generator_sha256.empty() &&
      m.mask_generator_sha256 != mask_generator_sha256) {
    return absl::FailedPreconditionError(absl::StrCat(
        "checkpoint was trained with mask generator weights ", DigestText(m.mask_generator_sha256),
        ", but the configured model.mask_generator_weights are ", mask_generator_sha256));
  }
  return absl::OkStatus();
}

absl::Status LoadCheckpointInto(const Checkpoint& checkpoint, MaskClassifier& classifier) {
  const SafetensorsFile& file = *checkpoint.file;
  return CopyStoredTensorsStrict(
      file, ClassifierCheckpointTensors(classifier),
      [](const std::string& name) { return name.rfind(kFgaSegCheckpointPrefix, 0) != 0; },
      absl::StrCat("checkpoint ", file.path(), " does not fit the classifier"));
}

}  // namespace ovseg
