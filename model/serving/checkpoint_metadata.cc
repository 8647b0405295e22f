#include "model/serving/checkpoint_metadata.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/client_text.h"

namespace ovseg {
namespace {

absl::Status FieldError(absl::string_view source, absl::string_view field,
                        absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("checkpoint ", source, ": metadata \"", field, "\" ", problem));
}

std::string ClassifierConfigJson(const MaskClassifierConfig& c) {
  return nlohmann::json{{"use_teva", c.use_teva},
                        {"teva_residual", c.teva_residual},
                        {"use_adapter", c.use_adapter},
                        {"adapter_hidden", c.adapter_hidden},
                        {"temperature", c.temperature}}
      .dump();
}

// Throws nlohmann::json::exception on a missing key or a value of another type.
MaskClassifierConfig ParseClassifierConfig(const std::string& json) {
  const nlohmann::json c = nlohmann::json::parse(json);
  MaskClassifierConfig config;
  config.use_teva = c.at("use_teva").get<bool>();
  config.teva_residual = c.at("teva_residual").get<bool>();
  config.use_adapter = c.at("use_adapter").get<bool>();
  config.adapter_hidden = c.at("adapter_hidden").get<int64_t>();
  config.temperature = c.at("temperature").get<double>();
  return config;
}

// The first FgaSegConfig field outside its range, as an error; OK when none is.
absl::Status CheckFgaSegRanges(const FgaSegConfig& c) {
  auto in = [](int64_t v, int64_t lo, int64_t hi) { return v >= lo && v <= hi; };
  auto range = [](absl::string_view field, int64_t v, int64_t lo, int64_t hi) {
    return absl::InvalidArgumentError(
        absl::StrCat("fgaseg_config: ", field, " is ", v, ", outside ", lo, "..", hi));
  };
  for (auto [field, v] : {std::pair<const char*, int64_t>{"embed_dim", c.embed_dim},
                          {"clip_width", c.clip_width},
                          {"hidden_dim", c.hidden_dim},
                          {"text_guidance_proj_dim", c.text_guidance_proj_dim},
                          {"appearance_guidance_proj_dim", c.appearance_guidance_proj_dim}}) {
    if (!in(v, 1, kMaxFgaSegWidth)) return range(field, v, 1, kMaxFgaSegWidth);
  }
  for (auto [field, values] :
       {std::pair<const char*, const std::vector<int64_t>*>{"decoder_dims", &c.decoder_dims},
        {"decoder_guidance_dims", &c.decoder_guidance_dims},
        {"decoder_guidance_proj_dims", &c.decoder_guidance_proj_dims},
        {"guidance_layers", &c.guidance_layers}}) {
    if (values->size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("fgaseg_config: ", field, " has ", values->size(), " entries, not 2"));
    }
    const bool layers = values == &c.guidance_layers;
    const int64_t lo = layers ? 0 : 1, hi = layers ? kMaxFgaSegGuidanceLayer : kMaxFgaSegWidth;
    for (int64_t v : *values) {
      if (!in(v, lo, hi)) return range(field, v, lo, hi);
    }
  }
  if (!in(c.layers, 1, kMaxFgaSegLayers)) return range("layers", c.layers, 1, kMaxFgaSegLayers);
  if (!in(c.p2t_layers, 0, kMaxFgaSegLayers)) {
    return range("p2t_layers", c.p2t_layers, 0, kMaxFgaSegLayers);
  }
  if (!in(c.heads, 1, kMaxFgaSegHeads)) return range("heads", c.heads, 1, kMaxFgaSegHeads);
  if (!in(c.p2t_heads, 1, kMaxFgaSegHeads)) {
    return range("p2t_heads", c.p2t_heads, 1, kMaxFgaSegHeads);
  }
  if (!in(c.pooling, 1, kMaxFgaSegWindow)) return range("pooling", c.pooling, 1, kMaxFgaSegWindow);
  if (!in(c.window, 1, kMaxFgaSegWindow)) return range("window", c.window, 1, kMaxFgaSegWindow);
  if (!in(c.pad_len, 0, kMaxFgaSegPadLength)) {
    return range("pad_len", c.pad_len, 0, kMaxFgaSegPadLength);
  }
  if (!in(c.kernel_size, 1, kMaxFgaSegKernel) || c.kernel_size % 2 == 0) {
    return absl::InvalidArgumentError(absl::StrCat("fgaseg_config: kernel_size is ", c.kernel_size,
                                                   ", not an odd 1..", kMaxFgaSegKernel));
  }
  if (c.top_k < 0) return range("top_k", c.top_k, 0, INT64_MAX);
  // Attention splits these widths over its heads; the decoder's first stage is half the
  // aggregation width (the head's own checks, made here before anything is built).
  if (c.hidden_dim % c.heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat("fgaseg_config: hidden_dim ", c.hidden_dim,
                                                   " is not a multiple of heads ", c.heads));
  }
  if (c.embed_dim % 2 != 0 || c.embed_dim % c.p2t_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat("fgaseg_config: embed_dim ", c.embed_dim,
                                                   " is not even and a multiple of p2t_heads ",
                                                   c.p2t_heads));
  }
  if (c.decoder_dims[0] != c.hidden_dim / 2) {
    return absl::InvalidArgumentError(absl::StrCat("fgaseg_config: decoder_dims[0] is ",
                                                   c.decoder_dims[0],
                                                   ", not hidden_dim / 2 = ", c.hidden_dim / 2));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> CheckpointMetadataEntries(
    const CheckpointMetadata& m) {
  if (!nlohmann::json::accept(m.eval_metrics_json)) {
    return absl::InvalidArgumentError("checkpoint eval_metrics is not valid JSON");
  }
  std::map<std::string, std::string> entries = {
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
  if (!m.fgaseg_config_json.empty()) entries["fgaseg_config"] = m.fgaseg_config_json;
  if (!m.prompt_templates.empty()) {
    entries["prompt_templates"] = nlohmann::json(m.prompt_templates).dump();
  }
  return entries;
}

absl::StatusOr<CheckpointMetadata> ParseCheckpointMetadata(
    const std::map<std::string, std::string>& md, absl::string_view source) {
  auto field = [&](const std::string& name) -> absl::StatusOr<std::string> {
    auto it = md.find(name);
    if (it == md.end()) return FieldError(source, name, "is missing");
    return it->second;
  };
  CheckpointMetadata m;
  absl::StatusOr<std::string> format = field("format");
  if (!format.ok()) return format.status();
  if (*format != kCheckpointFormat) {
    return FieldError(
        source, "format",
        absl::StrCat("is ", QuoteClientText(*format), ", expected \"", kCheckpointFormat, "\""));
  }
  absl::StatusOr<std::string> version = field("format_version");
  if (!version.ok()) return version.status();
  if (!absl::SimpleAtoi(*version, &m.format_version) ||
      m.format_version != kCheckpointFormatVersion) {
    return FieldError(source, "format_version",
                      absl::StrCat("is ", QuoteClientText(*version), "; this server reads version ",
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
    return FieldError(source, "step", "is not a non-negative integer");
  }
  absl::StatusOr<std::string> config = field("classifier_config");
  if (!config.ok()) return config.status();
  absl::StatusOr<std::string> vocabulary = field("training_vocabulary");
  if (!vocabulary.ok()) return vocabulary.status();
  try {
    m.classifier = ParseClassifierConfig(*config);
    m.training_vocabulary = nlohmann::json::parse(*vocabulary).get<std::vector<std::string>>();
    if (const auto t = md.find("prompt_templates"); t != md.end()) {
      m.prompt_templates = nlohmann::json::parse(t->second).get<std::vector<std::string>>();
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint ", source, ": malformed metadata: ", e.what()));
  }
  if (m.classifier.adapter_hidden < 1 || m.classifier.adapter_hidden > kMaxAdapterHidden) {
    return FieldError(source, "classifier_config",
                      absl::StrCat("has adapter_hidden ", m.classifier.adapter_hidden,
                                   ", outside 1..", kMaxAdapterHidden));
  }
  // NaN fails both comparisons, so it is refused too.
  if (!(m.classifier.temperature > 0 && m.classifier.temperature <= kMaxClassifierTemperature)) {
    return FieldError(source, "classifier_config",
                      absl::StrCat("has temperature ", m.classifier.temperature, ", outside (0, ",
                                   kMaxClassifierTemperature, "]"));
  }
  auto metrics = md.find("eval_metrics");
  m.eval_metrics_json = metrics == md.end() ? "{}" : metrics->second;
  if (!nlohmann::json::accept(m.eval_metrics_json)) {
    return FieldError(source, "eval_metrics", "is not valid JSON");
  }
  if (auto fgaseg = md.find("fgaseg_config"); fgaseg != md.end()) {
    // Checked here, at open, so that a head that could not be built is refused with the
    // rest of the metadata and before any tensor is allocated.
    if (absl::StatusOr<FgaSegConfig> head = ParseFgaSegConfigJson(fgaseg->second); !head.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint ", source, ": ", head.status().message()));
    }
    m.fgaseg_config_json = fgaseg->second;
  }
  return m;
}

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

absl::StatusOr<FgaSegConfig> ParseFgaSegConfigJson(absl::string_view json) {
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
  if (absl::Status s = CheckFgaSegRanges(c); !s.ok()) return s;
  return c;
}

}  // namespace ovseg
