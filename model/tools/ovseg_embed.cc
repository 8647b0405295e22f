// ovseg-embed: CLIP tokens and embeddings from the command line, as JSON (for checking
// weights against a reference and for scripting).
//   ovseg-embed tokenize --text T [--text T ...]
//   ovseg-embed encode --clip PATH [--format auto|openai|hf|torchscript]
//       [--quick-gelu true|false] [--text T ...] [--image PNG ...]
//       [--templates none|single|vild] [--precision fp32|bf16|fp16] [--device cpu|cuda[:N]]
//   ovseg-embed crops --clip PATH [--format ...] [--quick-gelu ...] --gt-json F --gt-dir D
//       --image-dir D [--crop masked|box] [--templates single|vild|none] [--max-images N]
//       [--precision ...] [--device ...] [--json-out F]
//     CLIP zero-shot top-1 accuracy on the ground-truth segments' crops
//     (evaluation/region_crops.h), every category's name (and synonyms) as a candidate;
//     the analysis's "CLIP alone" stage, which `ovseg-eval analyse --clip` runs.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "datasets/coco_panoptic.h"
#include "evaluation/region_accuracy.h"
#include "evaluation/region_crops.h"
#include "model/clip/clip_preprocess.h"
#include "model/clip/clip_text_encoder.h"
#include "model/clip/clip_tokenizer.h"
#include "model/clip/clip_weights.h"
#include "model/clip/prompt_templates.h"
#include "model/runtime/torch_precision.h"

namespace ovseg {
namespace {

namespace F = torch::nn::functional;

constexpr char kUsage[] =
    "usage:\n"
    "  ovseg-embed tokenize --text T [--text T ...]\n"
    "  ovseg-embed encode --clip PATH [--format auto|openai|hf|torchscript]\n"
    "      [--quick-gelu true|false] [--text T ...] [--image PNG ...]\n"
    "      [--templates none|single|vild] [--precision fp32|bf16|fp16] [--device cpu|cuda]\n"
    "  ovseg-embed crops --clip PATH [--format F] [--quick-gelu B] --gt-json F --gt-dir D\n"
    "      --image-dir D [--crop masked|box] [--templates single|vild|none] [--max-images N]\n"
    "      [--precision P] [--device D] [--json-out F]\n";

struct Args {
  std::multimap<std::string, std::string> values;
  std::string Get(const std::string& key, const std::string& fallback = "") const {
    auto it = values.find(key);
    return it == values.end() ? fallback : it->second;
  }
  std::vector<std::string> All(const std::string& key) const {
    std::vector<std::string> out;
    for (auto [it, end] = values.equal_range(key); it != end; ++it) out.push_back(it->second);
    return out;
  }
};

absl::StatusOr<Args> ParseArgs(int argc, char** argv, const std::vector<std::string>& known) {
  Args args;
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    if (std::find(known.begin(), known.end(), flag) == known.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag ", flag));
    }
    if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat(flag, " needs a value"));
    args.values.emplace(flag.substr(2), argv[++i]);
  }
  return args;
}

nlohmann::json Rows(const torch::Tensor& t) {
  nlohmann::json rows = nlohmann::json::array();
  const torch::Tensor c = t.to(torch::kCPU, torch::kFloat32).contiguous();
  for (int64_t i = 0; i < c.size(0); ++i) {
    const float* row = c[i].data_ptr<float>();
    rows.push_back(std::vector<float>(row, row + c.size(1)));
  }
  return rows;
}

absl::Status Tokenize(const Args& args) {
  nlohmann::json tokens = nlohmann::json::array();
  for (const std::string& text : args.All("text")) {
    tokens.push_back(ClipTokenizer::Default().Tokenize(text));
  }
  std::cout << nlohmann::json{{"tokens", tokens}}.dump() << "\n";
  return absl::OkStatus();
}

// The CLIP of --clip (format, quick GELU) on --device in --precision.
absl::StatusOr<ClipModel> LoadFromArgs(const Args& args, torch::Device* device) {
  ClipLoadOptions options;
  absl::StatusOr<ClipWeightFormat> format = ParseClipWeightFormat(args.Get("format", "auto"));
  if (!format.ok()) return format.status();
  options.format = *format;
  const std::string quick = args.Get("quick-gelu");
  if (quick == "true" || quick == "false") {
    options.quick_gelu = quick == "true";
  } else if (!quick.empty()) {
    return absl::InvalidArgumentError("--quick-gelu: expected true or false");
  }
  if (args.Get("clip").empty()) return absl::InvalidArgumentError("--clip PATH is required");
  const std::string device_name = args.Get("device", "cpu");
  absl::StatusOr<torch::ScalarType> dtype =
      ParsePrecision(args.Get("precision", "fp32"), device_name, "--precision");
  if (!dtype.ok()) return dtype.status();
  absl::StatusOr<ClipModel> model = LoadClipModel(args.Get("clip"), options);
  if (!model.ok()) return model.status();
  *device = torch::Device(device_name);
  (*model)->to(*device, *dtype);
  (*model)->visual->ClearCache();
  return model;
}

// One embedding per text: each filled into every template (or as is for "none"), then
// CLIP's prompt ensemble over the templates.
absl::StatusOr<std::vector<std::vector<float>>> EmbedTexts(
    ClipModel& model, const std::vector<std::vector<std::string>>& names,
    const std::string& template_set) {
  absl::StatusOr<std::vector<std::string>> templates = PromptTemplateSet(template_set);
  if (!templates.ok()) return templates.status();
  ClipTextEncoder encoder(model, ClipTokenizer::Default());
  const int dim = encoder.EmbeddingDim();
  std::vector<std::string> prompts;
  std::vector<size_t> owner;
  for (size_t i = 0; i < names.size(); ++i) {
    for (const std::string& name : names[i]) {
      for (const std::string& t : *templates) {
        prompts.push_back(template_set == "none" ? name : FillTemplate(t, name));
        owner.push_back(i);
      }
    }
  }
  absl::StatusOr<std::vector<float>> rows = encoder.Encode(prompts);
  if (!rows.ok()) return rows.status();
  PromptEnsemble ensemble(names.size(), dim);
  for (size_t p = 0; p < prompts.size(); ++p) ensemble.Add(owner[p], rows->data() + p * dim);
  return std::move(ensemble).Finish();
}

absl::Status Encode(const Args& args) {
  const std::string template_set = args.Get("templates", "none");
  absl::StatusOr<std::vector<std::string>> templates = PromptTemplateSet(template_set);
  if (!templates.ok()) return templates.status();
  torch::Device device(torch::kCPU);
  absl::StatusOr<ClipModel> model = LoadFromArgs(args, &device);
  if (!model.ok()) return model.status();
  const torch::ScalarType dtype = (*model)->visual->proj.scalar_type();

  nlohmann::json out;
  const std::vector<std::string> texts = args.All("text");
  nlohmann::json tokens = nlohmann::json::array();
  for (const std::string& t : texts) tokens.push_back(ClipTokenizer::Default().Tokenize(t));
  out["tokens"] = tokens;
  if (!texts.empty()) {
    ClipTextEncoder encoder(*model, ClipTokenizer::Default());
    const int dim = encoder.EmbeddingDim();
    std::vector<std::string> prompts;
    std::vector<size_t> owner;
    for (size_t i = 0; i < texts.size(); ++i) {
      for (const std::string& t : *templates) {
        prompts.push_back(template_set == "none" ? texts[i] : FillTemplate(t, texts[i]));
        owner.push_back(i);
      }
    }
    absl::StatusOr<std::vector<float>> rows = encoder.Encode(prompts);
    if (!rows.ok()) return rows.status();
    nlohmann::json embeds = nlohmann::json::array();
    if (template_set == "none") {
      for (size_t i = 0; i < texts.size(); ++i) {
        embeds.push_back(
            std::vector<float>(rows->begin() + i * dim, rows->begin() + (i + 1) * dim));
      }
    } else {
      PromptEnsemble ensemble(texts.size(), dim);
      for (size_t p = 0; p < prompts.size(); ++p) ensemble.Add(owner[p], rows->data() + p * dim);
      for (const std::vector<float>& row : std::move(ensemble).Finish()) embeds.push_back(row);
    }
    out["text_embeds"] = embeds;
  }
  const std::vector<std::string> images = args.All("image");
  if (!images.empty()) {
    std::vector<torch::Tensor> batch;
    const int size = static_cast<int>((*model)->config().vision.image_size);
    for (const std::string& path : images) {
      cv::Mat bgr = cv::imread(path, cv::IMREAD_COLOR);
      if (bgr.empty()) return absl::InvalidArgumentError(absl::StrCat("cannot read image ", path));
      cv::Mat rgb;
      cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
      batch.push_back(ClipPreprocess(rgb.data, rgb.cols, rgb.rows, size));
    }
    torch::InferenceMode inference;
    const torch::Tensor pixels = torch::cat(batch, 0).to(device, dtype);
    out["image_embeds"] = Rows((*model)->EncodeImage(pixels));
  }
  std::cout << out.dump() << "\n";
  return absl::OkStatus();
}

absl::Status Crops(const Args& args) {
  for (const char* required : {"gt-json", "gt-dir", "image-dir"}) {
    if (args.Get(required).empty())
      return absl::InvalidArgumentError(absl::StrCat("--", required, " is required"));
  }
  absl::StatusOr<CropStyle> style = ParseCropStyle(args.Get("crop", "masked"));
  if (!style.ok()) return style.status();
  int max_images = 0;
  if (const std::string m = args.Get("max-images"); !m.empty()) {
    if (!absl::SimpleAtoi(m, &max_images) || max_images < 0)
      return absl::InvalidArgumentError("--max-images: a number >= 0 expected");
  }
  const std::string template_set = args.Get("templates", "single");
  if (absl::Status s = PromptTemplateSet(template_set).status(); !s.ok()) return s;
  absl::StatusOr<CocoPanoptic> gt = ReadCocoPanopticJson(args.Get("gt-json"));
  if (!gt.ok()) return gt.status();
  torch::Device device(torch::kCPU);
  absl::StatusOr<ClipModel> model = LoadFromArgs(args, &device);
  if (!model.ok()) return model.status();
  std::vector<std::vector<std::string>> names;
  for (const CocoCategory& c : gt->categories) {
    std::vector<std::string>& n = names.emplace_back(1, c.category.name);
    n.insert(n.end(), c.synonyms.begin(), c.synonyms.end());
  }
  absl::StatusOr<std::vector<std::vector<float>>> rows = EmbedTexts(*model, names, template_set);
  if (!rows.ok()) return rows.status();
  const torch::ScalarType dtype = (*model)->visual->proj.scalar_type();
  const int64_t dim = static_cast<int64_t>(rows->front().size());
  torch::Tensor text = torch::empty({static_cast<int64_t>(rows->size()), dim});
  for (size_t i = 0; i < rows->size(); ++i)
    text[static_cast<int64_t>(i)].copy_(torch::tensor((*rows)[i]));
  text = text.to(device, dtype);

  std::map<int64_t, std::string> image_files;
  for (const CocoImageInfo& m : gt->images) image_files[m.id] = m.file_name;
  RegionAccuracy accuracy(gt->categories);
  const int size = static_cast<int>((*model)->config().vision.image_size);
  size_t n = gt->annotations.size();
  if (max_images > 0) n = std::min(n, static_cast<size_t>(max_images));
  torch::InferenceMode inference;
  for (size_t i = 0; i < n; ++i) {
    const CocoPanopticAnnotation& a = gt->annotations[i];
    absl::StatusOr<PanopticImage> truth = ReadPanopticPng(args.Get("gt-dir"), a);
    if (!truth.ok()) return truth.status();
    const std::string path = args.Get("image-dir") + "/" + image_files[a.image_id];
    cv::Mat bgr = cv::imread(path, cv::IMREAD_COLOR);
    if (bgr.empty() || bgr.cols != truth->width || bgr.rows != truth->height) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": missing, unreadable or not the size of its ground truth"));
    }
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    const std::vector<RegionCrop> crops = CropRegions(rgb.data, *truth, *style);
    if (crops.empty()) continue;
    std::vector<torch::Tensor> batch;
    for (const RegionCrop& c : crops) {
      batch.push_back(ClipPreprocess(c.rgb.data(), c.size, c.size, size));
    }
    const torch::Tensor image = (*model)->EncodeImage(torch::cat(batch, 0).to(device, dtype));
    const torch::Tensor best =
        torch::matmul(F::normalize(image.to(torch::kFloat32), F::NormalizeFuncOptions().dim(1)),
                      text.to(torch::kFloat32).t())
            .argmax(1)
            .to(torch::kCPU);
    for (size_t k = 0; k < crops.size(); ++k) {
      const int predicted =
          gt->categories.at(static_cast<size_t>(best[static_cast<int64_t>(k)].item<int64_t>()))
              .category.id;
      if (absl::Status s = accuracy.Add(crops[k].category_id, predicted); !s.ok()) return s;
    }
  }
  nlohmann::json report = accuracy.Report();
  report["images"] = n;
  report["crop"] = args.Get("crop", "masked");
  report["templates"] = template_set;
  const nlohmann::json out = {{"clip_crops", report}};
  std::cout << out.dump(2) << "\n";
  if (const std::string file = args.Get("json-out"); !file.empty()) {
    std::ofstream f(file);
    f << out.dump(2) << "\n";
    if (!f) return absl::PermissionDeniedError(absl::StrCat("cannot write ", file));
  }
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  if (argc < 2) return std::fprintf(stderr, "%s", kUsage), 2;
  const std::string command = argv[1];
  absl::Status status;
  try {
    if (command == "tokenize") {
      absl::StatusOr<Args> args = ParseArgs(argc, argv, {"--text"});
      status = args.ok() ? Tokenize(*args) : args.status();
    } else if (command == "encode") {
      absl::StatusOr<Args> args = ParseArgs(argc, argv,
                                            {"--clip", "--format", "--quick-gelu", "--text",
                                             "--image", "--templates", "--precision", "--device"});
      status = args.ok() ? Encode(*args) : args.status();
    } else if (command == "crops") {
      absl::StatusOr<Args> args = ParseArgs(
          argc, argv,
          {"--clip", "--format", "--quick-gelu", "--gt-json", "--gt-dir", "--image-dir", "--crop",
           "--templates", "--max-images", "--precision", "--device", "--json-out"});
      status = args.ok() ? Crops(*args) : args.status();
    } else {
      return std::fprintf(stderr, "unknown command %s\n%s", command.c_str(), kUsage), 2;
    }
  } catch (const c10::Error& e) {
    status = absl::InternalError(e.what_without_backtrace());
  }
  if (!status.ok()) {
    std::fprintf(stderr, "ovseg-embed: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace ovseg

int main(int argc, char** argv) { return ovseg::Main(argc, argv); }
