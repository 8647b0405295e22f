#include "model/serving/fgaseg_checkpoint.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "model/weights/strict_tensor_copy.h"

namespace ovseg {
namespace {

// The T2P branch ("proj.") trains the head but never serves.
bool IsServingTensor(const std::string& name) { return name.rfind("proj.", 0) != 0; }

}  // namespace

std::string FgaSegConfigJson(const FgaSegConfig& c) {
  return nlohmann::json{{"embed_dim", c.embed_dim},
                        {"clip_width", c.clip_width},
                        {"guidance_layers", c.guidance_layers},
                        {"hidden_dim", c.hidden_dim},
                        {"text_guidance_proj_dim", c.text_guidance_proj_dim},
                        {"appearance_guidance_proj_dim", c.appearance_guidance_proj_dim},
                        {"decoder_dims", c.decoder_dims},
                        {"decoder_guidance_dims", c.decoder_guidance_dims},
                        {"decoder_guidance_proj_dims", c.decoder_guidance_proj_dims},
                        {"layers", c.layers},
                        {"heads", c.heads},
                        {"pooling", c.pooling},
                        {"window", c.window},
                        {"pad_len", c.pad_len},
                        {"kernel_size", c.kernel_size},
                        {"p2t_layers", c.p2t_layers},
                        {"p2t_heads", c.p2t_heads},
                        {"top_k", c.top_k}}
      .dump();
}

absl::StatusOr<FgaSegConfig> ParseFgaSegConfigJson(const std::string& json) {
  FgaSegConfig c;
  try {
    const nlohmann::json j = nlohmann::json::parse(json);
    auto get = [&](const char* key, auto* out) {
      *out = j.at(key).get<std::decay_t<decltype(*out)>>();
    };
    get("embed_dim", &c.embed_dim);
    get("clip_width", &c.clip_width);
    get("guidance_layers", &c.guidance_layers);
    get("hidden_dim", &c.hidden_dim);
    get("text_guidance_proj_dim", &c.text_guidance_proj_dim);
    get("appearance_guidance_proj_dim", &c.appearance_guidance_proj_dim);
    get("decoder_dims", &c.decoder_dims);
    get("decoder_guidance_dims", &c.decoder_guidance_dims);
    get("decoder_guidance_proj_dims", &c.decoder_guidance_proj_dims);
    get("layers", &c.layers);
    get("heads", &c.heads);
    get("pooling", &c.pooling);
    get("window", &c.window);
    get("pad_len", &c.pad_len);
    get("kernel_size", &c.kernel_size);
    get("p2t_layers", &c.p2t_layers);
    get("p2t_heads", &c.p2t_heads);
    get("top_k", &c.top_k);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("fgaseg_config: ", e.what()));
  }
  return c;
}

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
