#include "model/mask2former/mask2former_weights.h"

#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "model/weights/tensor_fingerprint.h"

namespace ovseg {
namespace {

constexpr absl::string_view kEncoder = "model.pixel_level_module.encoder.";
constexpr absl::string_view kPixelDecoder = "model.pixel_level_module.decoder.";
constexpr absl::string_view kTransformer = "model.transformer_module.";
constexpr absl::string_view kClassPredictor = "class_predictor.";

int ParseIndex(absl::string_view s) {
  int v = -1;
  return absl::SimpleAtoi(s, &v) ? v : -1;
}

// HF ResNetBackbone name (below the encoder prefix) -> torchvision name; nullopt if it is
// not one.
std::optional<std::string> HfResNetToTorchvision(absl::string_view rest) {
  const std::vector<std::string> p = absl::StrSplit(rest, '.');
  auto layer = [](absl::string_view kind) -> std::optional<std::string> {
    if (kind == "convolution") return "conv";
    if (kind == "normalization") return "bn";
    return std::nullopt;
  };
  if (p.size() == 4 && p[0] == "embedder" && p[1] == "embedder") {
    const auto kind = layer(p[2]);
    if (!kind) return std::nullopt;
    return absl::StrCat(*kind, "1.", p[3]);
  }
  if (p.size() < 7 || p[0] != "encoder" || p[1] != "stages" || p[3] != "layers")
    return std::nullopt;
  const int stage = ParseIndex(p[2]), block = ParseIndex(p[4]);
  if (stage < 0 || block < 0) return std::nullopt;
  const std::string prefix = absl::StrCat("layer", stage + 1, ".", block, ".");
  if (p.size() == 9 && p[5] == "layer") {
    const int k = ParseIndex(p[6]);
    const auto kind = layer(p[7]);
    if (k < 0 || !kind) return std::nullopt;
    return absl::StrCat(prefix, *kind, k + 1, ".", p[8]);
  }
  if (p.size() == 8 && p[5] == "shortcut") {
    const auto kind = layer(p[6]);
    if (!kind) return std::nullopt;
    return absl::StrCat(prefix, "downsample.", *kind == "conv" ? "0" : "1", ".", p[7]);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> HfToOvsegName(const std::string& key) {
  if (absl::EndsWith(key, ".num_batches_tracked") ||
      absl::EndsWith(key, ".relative_position_index") || key == "criterion.empty_weight") {
    return std::string();
  }
  absl::string_view rest = key;
  if (absl::ConsumePrefix(&rest, kClassPredictor)) {
    return absl::StrCat("transformer.class_predictor.", rest);
  }
  if (absl::ConsumePrefix(&rest, kTransformer)) return absl::StrCat("transformer.", rest);
  if (absl::ConsumePrefix(&rest, kPixelDecoder)) return absl::StrCat("pixel_decoder.", rest);
  if (absl::ConsumePrefix(&rest, kEncoder)) {
    if (absl::StartsWith(rest, "embedder.") || absl::StartsWith(rest, "encoder.stages.")) {
      const std::optional<std::string> tv = HfResNetToTorchvision(rest);
      if (!tv) return std::nullopt;
      return absl::StrCat("backbone.", *tv);
    }
    return absl::StrCat("backbone.", rest);  // Swin, or ResNet already in torchvision names
  }
  return std::nullopt;
}

std::string OvsegToHfName(const std::string& name, Mask2FormerConfig::Backbone backbone) {
  absl::string_view rest = name;
  if (absl::ConsumePrefix(&rest, "transformer.class_predictor.")) {
    return absl::StrCat(kClassPredictor, rest);
  }
  if (absl::ConsumePrefix(&rest, "transformer.")) return absl::StrCat(kTransformer, rest);
  if (absl::ConsumePrefix(&rest, "pixel_decoder.")) return absl::StrCat(kPixelDecoder, rest);
  if (!absl::ConsumePrefix(&rest, "backbone.")) return name;
  if (backbone == Mask2FormerConfig::Backbone::kSwin) return absl::StrCat(kEncoder, rest);
  // torchvision -> HF ResNetBackbone
  const std::vector<std::string> p = absl::StrSplit(rest, '.');
  auto kind = [](absl::string_view layer) {
    return absl::StartsWith(layer, "conv") ? "convolution" : "normalization";
  };
  if (p.size() == 2) return absl::StrCat(kEncoder, "embedder.embedder.", kind(p[0]), ".", p[1]);
  const int stage = ParseIndex(absl::StripPrefix(p[0], "layer")) - 1;
  const std::string block = absl::StrCat(kEncoder, "encoder.stages.", stage, ".layers.", p[1], ".");
  if (p.size() == 5 && p[2] == "downsample") {
    return absl::StrCat(block, "shortcut.", p[3] == "0" ? "convolution" : "normalization", ".",
                        p[4]);
  }
  const int k = ParseIndex(p[2].substr(p[2].size() - 1)) - 1;
  return absl::StrCat(block, "layer.", k, ".", kind(p[2]), ".", p[3]);
}

namespace {

using Shapes = std::map<std::string, std::vector<int64_t>>;  // ovseg name -> shape

bool Has(const Shapes& s, const std::string& name) { return s.count(name) > 0; }

int64_t Dim(const Shapes& s, const std::string& name, size_t i) { return s.at(name).at(i); }

// How many consecutive indices `prefix + i + suffix` exist, from 0.
int64_t Count(const Shapes& s, const std::string& prefix, const std::string& suffix) {
  int64_t n = 0;
  while (Has(s, absl::StrCat(prefix, n, suffix))) ++n;
  return n;
}

absl::Status Require(const Shapes& s, const std::vector<std::string>& names) {
  for (const std::string& n : names) {
    if (!Has(s, n)) return absl::InvalidArgumentError(absl::StrCat("mask2former weights: no ", n));
  }
  return absl::OkStatus();
}

Shapes MappedShapes(const SafetensorsFile& file) {
  Shapes shapes;
  for (const SafetensorsTensor& t : file.header().tensors) {
    const std::optional<std::string> name = HfToOvsegName(t.name);
    if (name && !name->empty()) shapes[*name] = t.shape;
  }
  return shapes;
}

}  // namespace

absl::StatusOr<Mask2FormerConfig> InferMask2FormerConfig(const SafetensorsFile& file,
                                                         const Mask2FormerLoadOptions& options) {
  const Shapes s = MappedShapes(file);
  Mask2FormerConfig c;
  if (Has(s, "backbone.embeddings.patch_embeddings.projection.weight")) {
    c.backbone = Mask2FormerConfig::Backbone::kSwin;
    const std::string patch = "backbone.embeddings.patch_embeddings.projection.weight";
    c.swin.embed_dim = Dim(s, patch, 0);
    c.swin.patch = Dim(s, patch, 2);
    for (int stage = 0; stage < 4; ++stage) {
      const std::string blocks = absl::StrCat("backbone.encoder.layers.", stage, ".blocks.");
      c.swin.depths[stage] = Count(s, blocks, ".layernorm_before.weight");
      if (c.swin.depths[stage] == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("mask2former weights: swin stage ", stage, " has no blocks"));
      }
      const std::string table = blocks + "0.attention.self.relative_position_bias_table";
      if (absl::Status r = Require(s, {table, blocks + "0.intermediate.dense.weight"}); !r.ok()) {
        return r;
      }
      c.swin.heads[stage] = Dim(s, table, 1);
      const int64_t side = std::llround(std::sqrt(static_cast<double>(Dim(s, table, 0))));
      c.swin.window = (side + 1) / 2;
      c.swin.mlp_hidden_ratio =
          Dim(s, blocks + "0.intermediate.dense.weight", 0) / (c.swin.embed_dim << stage);
    }
  } else if (Has(s, "backbone.conv1.weight")) {
    c.backbone = Mask2FormerConfig::Backbone::kResNet;
    c.resnet.stem_width = Dim(s, "backbone.conv1.weight", 0);
    c.resnet.bottleneck = Has(s, "backbone.layer1.0.conv3.weight");
    for (int stage = 0; stage < 4; ++stage) {
      const std::string prefix = absl::StrCat("backbone.layer", stage + 1, ".");
      c.resnet.depths[stage] = Count(s, prefix, ".conv1.weight");
      const std::string last = prefix + (c.resnet.bottleneck ? "0.conv3.weight" : "0.conv2.weight");
      if (absl::Status r = Require(s, {last}); !r.ok()) return r;
      c.resnet.widths[stage] = Dim(s, last, 0);
    }
  } else {
    return absl::InvalidArgumentError(
        "mask2former weights: no backbone found (expected a Swin patch embedding or a ResNet "
        "stem under model.pixel_level_module.encoder.)");
  }

  const std::string pd = "pixel_decoder.";
  if (absl::Status r =
          Require(s, {pd + "input_projections.0.0.weight", pd + "mask_projection.weight",
                      pd + "encoder.layers.0.fc1.weight",
                      pd + "encoder.layers.0.self_attn.attention_weights.weight"});
      !r.ok()) {
    return r;
  }
  c.pixel_decoder.feature_dim = Dim(s, pd + "input_projections.0.0.weight", 0);
  c.pixel_decoder.mask_dim = Dim(s, pd + "mask_projection.weight", 0);
  c.pixel_decoder.encoder_layers = Count(s, pd + "encoder.layers.", ".fc1.weight");
  c.pixel_decoder.ffn_dim = Dim(s, pd + "encoder.layers.0.fc1.weight", 0);
  const int64_t heads_points =
      Dim(s, pd + "encoder.layers.0.self_attn.attention_weights.weight", 0) / 3;
  if (heads_points != options.heads * options.points) {
    return absl::InvalidArgumentError(absl::StrCat(
        "mask2former weights: the pixel decoder has ", heads_points,
        " attention weights per level, not heads x points = ", options.heads, " x ", options.points,
        "; set the head count and deformable points of this checkpoint"));
  }
  c.pixel_decoder.heads = options.heads;
  c.pixel_decoder.points = options.points;
  int64_t fpn_levels = 0;
  while (Has(s, absl::StrCat(pd, "adapter_", fpn_levels + 1, ".0.weight"))) ++fpn_levels;
  c.pixel_decoder.common_stride = 8 >> fpn_levels;
  c.pixel_decoder.positions_in_features = Has(s, pd + "position_projection.weight");
  c.pixel_decoder.positions_in_mask_features = Has(s, pd + "mask_position_projection.weight");

  const std::string t = "transformer.";
  if (absl::Status r = Require(
          s, {t + "queries_features.weight", t + "decoder.layers.0.fc1.weight",
              t + "decoder.mask_predictor.mask_embedder.2.0.weight", t + "class_predictor.weight"});
      !r.ok()) {
    return r;
  }
  c.decoder.hidden_dim = Dim(s, t + "queries_features.weight", 1);
  c.decoder.queries = Dim(s, t + "queries_features.weight", 0);
  c.decoder.layers = Count(s, t + "decoder.layers.", ".fc1.weight");
  c.decoder.ffn_dim = Dim(s, t + "decoder.layers.0.fc1.weight", 0);
  c.decoder.heads = options.heads;
  c.decoder.num_classes = Dim(s, t + "class_predictor.weight", 0) - 1;
  c.decoder.enforce_input_projection = Has(s, t + "input_projections.0.weight");
  return c;
}

absl::StatusOr<Mask2Former> LoadMask2Former(const std::string& path,
                                            const Mask2FormerLoadOptions& options) {
  absl::StatusOr<std::shared_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  if (!file.ok()) return file.status();
  absl::StatusOr<Mask2FormerConfig> config = InferMask2FormerConfig(**file, options);
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat(path, ": ", config.status().message()));
  }
  Mask2Former model(*config);
  std::map<std::string, torch::Tensor> targets;
  for (auto& p : model->named_parameters()) targets[p.key()] = p.value();
  for (auto& b : model->named_buffers()) targets[b.key()] = b.value();
  std::vector<std::string> unexpected, mismatched;
  std::set<std::string> loaded;
  torch::NoGradGuard no_grad;
  for (const std::string& key : (*file)->Names()) {
    const std::optional<std::string> name = HfToOvsegName(key);
    if (name && name->empty()) continue;  // known, deliberately not loaded
    auto it = name ? targets.find(*name) : targets.end();
    if (it == targets.end()) {
      unexpected.push_back(key);
      continue;
    }
    absl::StatusOr<torch::Tensor> tensor = (*file)->Get(key);
    if (!tensor.ok()) return tensor.status();
    if (tensor->sizes() != it->second.sizes()) {
      mismatched.push_back(absl::StrCat(key, " ", c10::str(tensor->sizes()), " vs expected ",
                                        c10::str(it->second.sizes())));
      continue;
    }
    it->second.copy_(*tensor);
    loaded.insert(it->first);
  }
  std::vector<std::string> missing;
  for (const auto& [name, tensor] : targets) {
    if (!loaded.count(name)) missing.push_back(OvsegToHfName(name, config->backbone));
  }
  if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
    std::vector<std::string> parts;
    if (!missing.empty())
      parts.push_back(absl::StrCat("missing [", absl::StrJoin(missing, ", "), "]"));
    if (!unexpected.empty()) {
      parts.push_back(absl::StrCat("unexpected [", absl::StrJoin(unexpected, ", "), "]"));
    }
    if (!mismatched.empty()) {
      parts.push_back(absl::StrCat("wrong shape [", absl::StrJoin(mismatched, ", "), "]"));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": mask2former weights (", config->Describe(), "): ", absl::StrJoin(parts, "; ")));
  }
  model->eval();
  return model;
}

std::string Mask2FormerWeightsFingerprint(Mask2Former& model) {
  std::map<std::string, torch::Tensor> all;
  for (auto& p : model->named_parameters()) all[p.key()] = p.value();
  for (auto& b : model->named_buffers()) all[b.key()] = b.value();
  return TensorFingerprint("mask2former;", all);
}

absl::Status WriteMask2Former(const std::string& path, Mask2Former& model,
                              const std::map<std::string, std::string>& metadata) {
  const Mask2FormerConfig::Backbone kind = model->config().backbone;
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (auto& p : model->named_parameters()) {
    tensors.emplace_back(OvsegToHfName(p.key(), kind), p.value().detach());
  }
  for (auto& b : model->named_buffers()) {
    tensors.emplace_back(OvsegToHfName(b.key(), kind), b.value());
    // HF's BatchNorm2d also stores a step counter; writing it keeps transformers quiet.
    if (absl::EndsWith(b.key(), ".running_var")) {
      std::string counter = tensors.back().first;
      counter.replace(counter.size() - std::string("running_var").size(), std::string::npos,
                      "num_batches_tracked");
      tensors.emplace_back(counter, torch::zeros({}, torch::kLong));
    }
  }
  return WriteSafetensors(path, tensors, metadata);
}

}  // namespace ovseg
