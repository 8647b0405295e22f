#include "model/serving/fovseg_checkpoint.h"

#include <map>
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "model/weights/strict_tensor_copy.h"

namespace ovseg {
namespace {

constexpr char kClassifierPrefix[] = "classifier.";

absl::Status FieldError(const std::string& path, const std::string& field,
                        const std::string& problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("checkpoint ", path, ": metadata \"", field, "\" ", problem));
}

std::string ClassifierConfigJson(const MaskClassifierConfig& c) {
  return nlohmann::json{{"use_teva", c.use_teva},
                        {"teva_residual", c.teva_residual},
                        {"use_adapter", c.use_adapter},
                        {"adapter_hidden", c.adapter_hidden},
                        {"temperature", c.temperature}}
      .dump();
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
  if (!nlohmann::json::accept(m.eval_metrics_json)) {
    return absl::InvalidArgumentError("checkpoint eval_metrics is not valid JSON");
  }
  std::map<std::string, std::string> metadata = {
      {"format", kCheckpointFormat},
      {"format_version", std::to_string(m.format_version)},
      {"preset", m.preset},
      {"clip_sha256", m.clip_sha256},
      {"mask_generator_sha256", m.mask_generator_sha256},
      {"classifier_config", ClassifierConfigJson(m.classifier)},
      {"step", std::to_string(m.step)},
      {"training_vocabulary", nlohmann::json(m.training_vocabulary).dump()},
      {"eval_metrics", m.eval_metrics_json},
  };
  if (!m.fgaseg_config_json.empty()) metadata["fgaseg_config"] = m.fgaseg_config_json;
  if (!m.prompt_templates.empty()) {
    metadata["prompt_templates"] = nlohmann::json(m.prompt_templates).dump();
  }
  return WriteSafetensors(path, tensors, metadata);
}

absl::StatusOr<Checkpoint> OpenCheckpoint(const std::string& path) {
  absl::StatusOr<std::shared_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  if (!file.ok()) return file.status();
  const std::map<std::string, std::string>& md = (*file)->header().metadata;
  auto field = [&](const std::string& name) -> absl::StatusOr<std::string> {
    auto it = md.find(name);
    if (it == md.end()) return FieldError(path, name, "is missing");
    return it->second;
  };
  Checkpoint checkpoint;
  checkpoint.file = *file;
  CheckpointMetadata& m = checkpoint.metadata;
  absl::StatusOr<std::string> format = field("format");
  if (!format.ok()) return format.status();
  if (*format != kCheckpointFormat) {
    return FieldError(path, "format",
                      absl::StrCat("is \"", *format, "\", expected \"", kCheckpointFormat, "\""));
  }
  absl::StatusOr<std::string> version = field("format_version");
  if (!version.ok()) return version.status();
  if (!absl::SimpleAtoi(*version, &m.format_version) ||
      m.format_version != kCheckpointFormatVersion) {
    return FieldError(path, "format_version",
                      absl::StrCat("is \"", *version, "\"; this server reads version ",
                                   kCheckpointFormatVersion));
  }
  for (auto [name, target] : {std::pair{"preset", &m.preset},
                              {"clip_sha256", &m.clip_sha256},
                              {"mask_generator_sha256", &m.mask_generator_sha256}}) {
    absl::StatusOr<std::string> value = field(name);
    if (!value.ok()) return value.status();
    *target = *value;
  }
  absl::StatusOr<std::string> step = field("step");
  if (!step.ok()) return step.status();
  if (!absl::SimpleAtoi(*step, &m.step) || m.step < 0) {
    return FieldError(path, "step", "is not a non-negative integer");
  }
  absl::StatusOr<std::string> config = field("classifier_config");
  if (!config.ok()) return config.status();
  try {
    const nlohmann::json c = nlohmann::json::parse(*config);
    m.classifier.use_teva = c.at("use_teva").get<bool>();
    m.classifier.teva_residual = c.at("teva_residual").get<bool>();
    m.classifier.use_adapter = c.at("use_adapter").get<bool>();
    m.classifier.adapter_hidden = c.at("adapter_hidden").get<int64_t>();
    m.classifier.temperature = c.at("temperature").get<double>();
    if (m.classifier.adapter_hidden < 1 || !(m.classifier.temperature > 0)) {
      return FieldError(path, "classifier_config", "has adapter_hidden < 1 or temperature <= 0");
    }
    absl::StatusOr<std::string> vocabulary = field("training_vocabulary");
    if (!vocabulary.ok()) return vocabulary.status();
    m.training_vocabulary = nlohmann::json::parse(*vocabulary).get<std::vector<std::string>>();
    if (const auto t = md.find("prompt_templates"); t != md.end()) {
      m.prompt_templates = nlohmann::json::parse(t->second).get<std::vector<std::string>>();
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint ", path, ": malformed metadata: ", e.what()));
  }
  auto metrics = md.find("eval_metrics");
  m.eval_metrics_json = metrics == md.end() ? "{}" : metrics->second;
  if (!nlohmann::json::accept(m.eval_metrics_json)) {
    return FieldError(path, "eval_metrics", "is not valid JSON");
  }
  auto fgaseg = md.find("fgaseg_config");
  if (fgaseg != md.end()) {
    if (!nlohmann::json::accept(fgaseg->second)) {
      return FieldError(path, "fgaseg_config", "is not valid JSON");
    }
    m.fgaseg_config_json = fgaseg->second;
  }
  return checkpoint;
}

absl::Status CheckCheckpointBase(const CheckpointMetadata& m, const std::string& preset,
                                 const std::string& clip_sha256,
                                 const std::string& mask_generator_sha256) {
  if (m.preset != preset) {
    return absl::FailedPreconditionError(absl::StrCat(
        "checkpoint was trained for preset \"", m.preset, "\", this model is \"", preset, "\""));
  }
  if (m.clip_sha256 != clip_sha256) {
    return absl::FailedPreconditionError(
        absl::StrCat("checkpoint was trained on CLIP weights ", m.clip_sha256,
                     ", but the configured model.clip_weights are ", clip_sha256));
  }
  if (!m.mask_generator_sha256.empty() && !mask_generator_sha256.empty() &&
      m.mask_generator_sha256 != mask_generator_sha256) {
    return absl::FailedPreconditionError(absl::StrCat(
        "checkpoint was trained with mask generator weights ", m.mask_generator_sha256,
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
