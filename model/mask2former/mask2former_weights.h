// Mask2Former weights in HuggingFace's Mask2FormerForUniversalSegmentation layout
// (safetensors), e.g. facebook/mask2former-swin-{tiny,small,base,large}-coco-panoptic.
// The whole key mapping lives here (HfToOvsegName / OvsegToHfName):
//
//   model.pixel_level_module.encoder.<swin name>    -> backbone.<same name>
//   model.pixel_level_module.encoder.<resnet name>  -> backbone.<torchvision name>
//       embedder.embedder.{convolution,normalization}         -> conv1 / bn1
//       encoder.stages.S.layers.J.layer.K.convolution         -> layer{S+1}.J.conv{K+1}
//       encoder.stages.S.layers.J.layer.K.normalization       -> layer{S+1}.J.bn{K+1}
//       encoder.stages.S.layers.J.shortcut.{convolution,normalization}
//                                                             -> layer{S+1}.J.downsample.{0,1}
//     (torchvision names under the encoder prefix are accepted as they are)
//   model.pixel_level_module.decoder.<name>         -> pixel_decoder.<same name>
//   model.transformer_module.<name>                 -> transformer.<same name>
//   class_predictor.<name>                          -> transformer.class_predictor.<name>
//   ignored: *.num_batches_tracked, *.relative_position_index (recomputed),
//            criterion.empty_weight (the training loss's class weights)
//
// Sizes come from the tensors' shapes. Two numbers cannot: the attention head counts
// (HF's num_attention_heads, default 8, shared by both decoders) and the deformable
// points (4); they are options.
#ifndef OVSEG_MODEL_MASK2FORMER_MASK2FORMER_WEIGHTS_H_
#define OVSEG_MODEL_MASK2FORMER_MASK2FORMER_WEIGHTS_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "model/mask2former/mask2former_model.h"
#include "model/weights/safetensors_file.h"

namespace ovseg {

struct Mask2FormerLoadOptions {
  int64_t heads = 8;
  int64_t points = 4;
};

// The ovseg parameter or buffer name of an HF key; "" for keys that are known and
// deliberately not loaded; nullopt for keys outside the mapping.
std::optional<std::string> HfToOvsegName(const std::string& hf_key);
// The HF key of an ovseg parameter or buffer name (ResNet backbones in HF's layout).
std::string OvsegToHfName(const std::string& name, Mask2FormerConfig::Backbone backbone);

absl::StatusOr<Mask2FormerConfig> InferMask2FormerConfig(const SafetensorsFile& file,
                                                         const Mask2FormerLoadOptions& options);

// Builds the model the file describes and loads every tensor. Fails naming every missing
// or unexpected key and every shape mismatch.
absl::StatusOr<Mask2Former> LoadMask2Former(const std::string& path,
                                            const Mask2FormerLoadOptions& options = {});

// Fingerprint of the weights (model/weights/tensor_fingerprint.h), recorded by
// checkpoints trained on top of this generator.
std::string Mask2FormerWeightsFingerprint(Mask2Former& model);

// Writes the model under HF's key names (loadable by LoadMask2Former and by transformers).
absl::Status WriteMask2Former(const std::string& path, Mask2Former& model,
                              const std::map<std::string, std::string>& metadata = {});

}  // namespace ovseg

#endif  // OVSEG_MODEL_MASK2FORMER_MASK2FORMER_WEIGHTS_H_
