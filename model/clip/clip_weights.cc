#include "model/clip/clip_weights.h"

#include <torch/script.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/weights/safetensors_file.h"
#include "model/weights/tensor_fingerprint.h"

namespace ovseg {
namespace {

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

bool IsZipArchive(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && std::string(magic, 4) == std::string("PK\x03\x04", 4);
}

// transformers' CLIP config: hidden_act per tower, "quick_gelu" when not written (the
// library's default, which save_pretrained leaves out).
absl::StatusOr<std::optional<bool>> HuggingFaceQuickGelu(const std::string& weights_path) {
  const std::string path = Dirname(weights_path) + "/config.json";
  std::ifstream in(path);
  if (!in) return std::optional<bool>();
  const nlohmann::json config = nlohmann::json::parse(in, nullptr, false);
  if (!config.is_object()) return absl::InvalidArgumentError(absl::StrCat(path, ": not JSON"));
  std::optional<bool> quick;
  for (const char* tower : {"text_config", "vision_config"}) {
    std::string act = "quick_gelu";
    if (config.contains(tower) && config[tower].is_object() &&
        config[tower].contains("hidden_act")) {
      act = config[tower]["hidden_act"].get<std::string>();
    }
    if (act != "quick_gelu" && act != "gelu") {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": ", tower, ".hidden_act \"", act, "\" is not gelu or quick_gelu"));
    }
    const bool q = act == "quick_gelu";
    if (quick && *quick != q) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": text and vision towers use different activations"));
    }
    quick = q;
  }
  return quick;
}

absl::StatusOr<std::map<std::string, torch::Tensor>> ReadTorchScript(const std::string& path) {
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, torch::kCPU);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("clip: cannot load TorchScript archive ", path, ": ", e.what()));
  }
  std::map<std::string, torch::Tensor> state;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) {
    state[p.name] = p.value.detach().to(torch::kFloat32).contiguous();
  }
  return state;
}

}  // namespace

absl::StatusOr<ClipWeightFormat> ParseClipWeightFormat(const std::string& name) {
  if (name == "auto") return ClipWeightFormat::kAuto;
  if (name == "openai") return ClipWeightFormat::kOpenAi;
  if (name == "hf") return ClipWeightFormat::kHuggingFace;
  if (name == "torchscript") return ClipWeightFormat::kTorchScript;
  return absl::InvalidArgumentError(
      absl::StrCat("clip weight format \"", name, "\": expected auto, openai, hf or torchscript"));
}

const char* ClipWeightFormatName(ClipWeightFormat format) {
  switch (format) {
    case ClipWeightFormat::kAuto:
      return "auto";
    case ClipWeightFormat::kOpenAi:
      return "openai";
    case ClipWeightFormat::kHuggingFace:
      return "hf";
    case ClipWeightFormat::kTorchScript:
      return "torchscript";
  }
  return "?";
}

absl::StatusOr<std::map<std::string, torch::Tensor>> ConvertHuggingFaceClip(
    const std::map<std::string, torch::Tensor>& hf) {
  std::map<std::string, torch::Tensor> out;
  std::vector<std::string> unknown;
  // Per block: q/k/v halves waiting to be packed into in_proj.
  std::map<std::string, std::map<std::string, torch::Tensor>> qkv;
  static const std::regex kLayer(R"((text|vision)_model\.encoder\.layers\.(\d+)\.(.+))");
  static const std::map<std::string, std::string> kBlockParts = {
      {"self_attn.out_proj.weight", "attn.out_proj.weight"},
      {"self_attn.out_proj.bias", "attn.out_proj.bias"},
      {"layer_norm1.weight", "ln_1.weight"},
      {"layer_norm1.bias", "ln_1.bias"},
      {"layer_norm2.weight", "ln_2.weight"},
      {"layer_norm2.bias", "ln_2.bias"},
      {"mlp.fc1.weight", "mlp.c_fc.weight"},
      {"mlp.fc1.bias", "mlp.c_fc.bias"},
      {"mlp.fc2.weight", "mlp.c_proj.weight"},
      {"mlp.fc2.bias", "mlp.c_proj.bias"}};
  static const std::map<std::string, std::string> kTopLevel = {
      {"text_model.embeddings.token_embedding.weight", "token_embedding.weight"},
      {"text_model.embeddings.position_embedding.weight", "positional_embedding"},
      {"text_model.final_layer_norm.weight", "ln_final.weight"},
      {"text_model.final_layer_norm.bias", "ln_final.bias"},
      {"vision_model.embeddings.class_embedding", "visual.class_embedding"},
      {"vision_model.embeddings.patch_embedding.weight", "visual.conv1.weight"},
      {"vision_model.embeddings.position_embedding.weight", "visual.positional_embedding"},
      {"vision_model.pre_layrnorm.weight", "visual.ln_pre.weight"},
      {"vision_model.pre_layrnorm.bias", "visual.ln_pre.bias"},
      {"vision_model.post_layernorm.weight", "visual.ln_post.weight"},
      {"vision_model.post_layernorm.bias", "visual.ln_post.bias"},
      {"logit_scale", "logit_scale"}};
  for (const auto& [key, value] : hf) {
    if (key == "text_model.embeddings.position_ids" ||
        key == "vision_model.embeddings.position_ids") {
      continue;  // Index buffers of older transformers versions, not weights.
    }
    if (auto it = kTopLevel.find(key); it != kTopLevel.end()) {
      out[it->second] = value;
      continue;
    }
    if (key == "text_projection.weight") {
      out["text_projection"] = value.t().contiguous();  // Linear [E, C] -> x @ [C, E].
      continue;
    }
    if (key == "visual_projection.weight") {
      out["visual.proj"] = value.t().contiguous();
      continue;
    }
    std::smatch m;
    if (std::regex_match(key, m, kLayer)) {
      const std::string prefix = (m[1] == "text" ? std::string("transformer.resblocks.")
                                                 : std::string("visual.transformer.resblocks.")) +
                                 m[2].str() + ".";
      const std::string part = m[3];
      if (auto it = kBlockParts.find(part); it != kBlockParts.end()) {
        out[prefix + it->second] = value;
        continue;
      }
      static const std::regex kQkv(R"(self_attn\.(q|k|v)_proj\.(weight|bias))");
      std::smatch q;
      if (std::regex_match(part, q, kQkv)) {
        qkv[prefix + "attn.in_proj_" + q[2].str()][q[1].str()] = value;
        continue;
      }
    }
    unknown.push_back(key);
  }
  for (auto& [name, parts] : qkv) {
    if (parts.size() != 3) {
      return absl::InvalidArgumentError(
          absl::StrCat("clip (hf): ", name, " needs q, k and v projections; found ", parts.size()));
    }
    out[name] = torch::cat({parts["q"], parts["k"], parts["v"]}, 0);
  }
  if (!unknown.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("clip (hf): unexpected keys [", absl::StrJoin(unknown, ", "), "]"));
  }
  return out;
}

absl::StatusOr<ClipWeights> ReadClipWeights(const std::string& path, ClipWeightFormat format) {
  ClipWeights weights;
  if (format == ClipWeightFormat::kAuto && IsZipArchive(path))
    format = ClipWeightFormat::kTorchScript;
  if (format == ClipWeightFormat::kTorchScript) {
    absl::StatusOr<std::map<std::string, torch::Tensor>> state = ReadTorchScript(path);
    if (!state.ok()) return state.status();
    weights.state = *std::move(state);
    weights.format = format;
    weights.quick_gelu = true;  // Only OpenAI released TorchScript CLIP archives.
    return weights;
  }
  absl::StatusOr<std::shared_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  if (!file.ok()) return file.status();
  absl::StatusOr<std::map<std::string, torch::Tensor>> tensors = (*file)->GetAll();
  if (!tensors.ok()) return tensors.status();
  for (auto& [name, t] : *tensors) t = t.to(torch::kFloat32);
  if (format == ClipWeightFormat::kAuto) {
    format = ClipWeightFormat::kOpenAi;
    for (const auto& [name, t] : *tensors) {
      if (StartsWith(name, "vision_model.") || StartsWith(name, "text_model.")) {
        format = ClipWeightFormat::kHuggingFace;
      }
    }
  }
  weights.format = format;
  if (format == ClipWeightFormat::kHuggingFace) {
    absl::StatusOr<std::map<std::string, torch::Tensor>> converted =
        ConvertHuggingFaceClip(*tensors);
    if (!converted.ok()) return converted.status();
    weights.state = *std::move(converted);
    absl::StatusOr<std::optional<bool>> quick = HuggingFaceQuickGelu(path);
    if (!quick.ok()) return quick.status();
    weights.quick_gelu = *quick;
    return weights;
  }
  weights.state = *std::move(tensors);
  return weights;
}

absl::StatusOr<ClipModel> LoadClipModel(const std::string& path, const ClipLoadOptions& options) {
  absl::StatusOr<ClipWeights> weights = ReadClipWeights(path, options.format);
  if (!weights.ok()) return weights.status();
  std::optional<bool> quick = options.quick_gelu ? options.quick_gelu : weights->quick_gelu;
  if (!quick) {
    return absl::InvalidArgumentError(absl::StrCat(
        "clip: ", path, " (", ClipWeightFormatName(weights->format),
        " layout) does not record its activation; set quick_gelu (true for OpenAI weights, "
        "false for OpenCLIP weights unless the model name says quickgelu)"));
  }
  absl::StatusOr<ClipConfig> config = InferClipConfig(weights->state, *quick);
  if (!config.ok()) return config.status();
  config->interpolation = options.interpolation;
  ClipModel model(*config);
  if (absl::Status s = LoadClipState(model, weights->state); !s.ok()) return s;
  model->eval();
  return model;
}

namespace {

const char* ActivationTag(const ClipModel& model) {
  return model->config().quick_gelu ? "act=quick_gelu;" : "act=gelu;";
}

}  // namespace

std::string ClipTextFingerprint(const ClipModel& model) {
  std::map<std::string, torch::Tensor> text;
  for (const auto& p : model->named_parameters(/*recurse=*/true)) {
    if (!StartsWith(p.key(), "visual.") && p.key() != "logit_scale") text[p.key()] = p.value();
  }
  return TensorFingerprint(ActivationTag(model), text);
}

std::string ClipWeightsFingerprint(const ClipModel& model) {
  std::map<std::string, torch::Tensor> all;
  for (const auto& p : model->named_parameters(/*recurse=*/true)) all[p.key()] = p.value();
  return TensorFingerprint(ActivationTag(model), all);
}

}  // namespace ovseg
