// ovseg-embed: CLIP tokens and embeddings from the command line, as JSON (for checking
// weights against a reference and for scripting).
//   ovseg-embed tokenize --text T [--text T ...]
//   ovseg-embed encode --clip PATH [--format auto|openai|hf|torchscript]
//       [--quick-gelu true|false] [--text T ...] [--image PNG ...]
//       [--templates none|single|vild] [--precision fp32|bf16|fp16] [--device cpu|cuda[:N]]
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "model/clip/clip_preprocess.h"
#include "model/clip/clip_text_encoder.h"
#include "model/clip/clip_tokenizer.h"
#include "model/clip/clip_weights.h"
#include "model/clip/prompt_templates.h"
#include "model/runtime/torch_precision.h"

namespace ovseg {
namespace {

constexpr char kUsage[] =
    "usage:\n"
    "  ovseg-embed tokenize --text T [--text T ...]\n"
    "  ovseg-embed encode --clip PATH [--format auto|openai|hf|torchscript]\n"
    "      [--quick-gelu true|false] [--text T ...] [--image PNG ...]\n"
    "      [--templates none|single|vild] [--precision fp32|bf16|fp16] [--device cpu|cuda]\n";

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

absl::Status Encode(const Args& args) {
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
  const std::string template_set = args.Get("templates", "none");
  absl::StatusOr<std::vector<std::string>> templates = PromptTemplateSet(template_set);
  if (!templates.ok()) return templates.status();
  absl::StatusOr<ClipModel> model = LoadClipModel(args.Get("clip"), options);
  if (!model.ok()) return model.status();
  const torch::Device device(device_name);
  (*model)->to(device, *dtype);
  (*model)->visual->ClearCache();

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
    const torch::Tensor pixels = torch::cat(batch, 0).to(device, *dtype);
    out["image_embeds"] = Rows((*model)->EncodeImage(pixels));
  }
  std::cout << out.dump() << "\n";
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
