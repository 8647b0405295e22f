// CLIP weights in the layouts users have, loaded into OpenAI's key names:
//   (a) OpenAI / OpenCLIP state dicts in safetensors ("visual.transformer.resblocks.N...");
//   (b) HuggingFace CLIPModel safetensors (split q/k/v, transposed projections,
//       "pre_layrnorm"), optionally with its config.json beside it;
//   (c) OpenAI's released TorchScript archives (ViT-B-16.pt, ...), fp16 converted to fp32.
#ifndef OVSEG_MODEL_CLIP_CLIP_WEIGHTS_H_
#define OVSEG_MODEL_CLIP_CLIP_WEIGHTS_H_

#include <torch/torch.h>

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "model/clip/clip_model.h"

namespace ovseg {

enum class ClipWeightFormat { kAuto, kOpenAi, kHuggingFace, kTorchScript };

absl::StatusOr<ClipWeightFormat> ParseClipWeightFormat(const std::string& name);
const char* ClipWeightFormatName(ClipWeightFormat format);

struct ClipLoadOptions {
  ClipWeightFormat format = ClipWeightFormat::kAuto;
  // QuickGELU (OpenAI) or GELU (OpenCLIP). Unset: TorchScript archives are OpenAI's, so
  // QuickGELU; HuggingFace takes hidden_act from config.json beside the weights; an
  // OpenAI-layout safetensors file says nothing, so the flag is required (never guessed).
  std::optional<bool> quick_gelu;
  PosEmbedInterpolation interpolation = PosEmbedInterpolation::kBicubic;
};

struct ClipWeights {
  std::map<std::string, torch::Tensor> state;         // OpenAI key names, fp32 on CPU.
  ClipWeightFormat format = ClipWeightFormat::kAuto;  // The format actually read.
  std::optional<bool> quick_gelu;                     // When the file records it.
};

// Reads `path` in `format` (kAuto: TorchScript zip archives by their magic, safetensors by
// key names) and maps the keys to OpenAI's names.
absl::StatusOr<ClipWeights> ReadClipWeights(const std::string& path, ClipWeightFormat format);

// HuggingFace CLIPModel keys -> OpenAI keys (q/k/v concatenated, projections transposed).
// Unknown keys are reported by name.
absl::StatusOr<std::map<std::string, torch::Tensor>> ConvertHuggingFaceClip(
    const std::map<std::string, torch::Tensor>& hf);

// Reads, infers the configuration and loads a model in fp32 on CPU.
absl::StatusOr<ClipModel> LoadClipModel(const std::string& path, const ClipLoadOptions& options);

// sha256 (hex) of everything that defines the text embeddings: the activation and the
// text tower's tensors (names, shapes, fp32 values) in name order.
std::string ClipTextFingerprint(const ClipModel& model);

// sha256 (hex) of the whole model the same way: the base-weight fingerprint a trained
// checkpoint records. Take it before converting to a serving precision.
std::string ClipWeightsFingerprint(const ClipModel& model);

}  // namespace ovseg

#endif  // OVSEG_MODEL_CLIP_CLIP_WEIGHTS_H_
