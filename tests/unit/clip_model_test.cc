// CLIP against the public implementations: a tiny random model in OpenAI, HuggingFace and
// TorchScript layouts with outputs from openai/CLIP, open_clip and transformers
// (scripts/testdata/make_clip_reference.py, data in tests/data/clip_tiny/).
#include "model/clip/clip_model.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/clip/clip_weights.h"

namespace ovseg {
namespace {

std::string DataDir() {
  const char* root = std::getenv("OVSEG_SOURCE_DIR");
  return std::string(root ? root : ".") + "/tests/data/clip_tiny/";
}

const nlohmann::json& Reference() {
  static const nlohmann::json ref = [] {
    std::ifstream in(DataDir() + "reference.json");
    return nlohmann::json::parse(in);
  }();
  return ref;
}

torch::Tensor Floats(const nlohmann::json& values, std::vector<int64_t> shape) {
  return torch::tensor(values.get<std::vector<float>>()).reshape(shape);
}

// The reference images: sin(arange(n*3*h*w) * 0.0137) with the same torch ops as Python.
torch::Tensor Images(int64_t n, int64_t h, int64_t w) {
  return torch::sin(torch::arange(n * 3 * h * w, torch::kFloat32) * 0.0137).reshape({n, 3, h, w});
}

torch::Tensor AllTokens() {
  std::vector<torch::Tensor> rows;
  for (const auto& row : Reference()["tokens"]) {
    rows.push_back(torch::tensor(row.get<std::vector<int64_t>>()));
  }
  return torch::stack(rows);
}

double MaxAbsDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat32) - b.to(torch::kFloat32)).abs().max().item<double>();
}

ClipModel Load(const std::string& file, ClipLoadOptions options) {
  absl::StatusOr<ClipModel> model = LoadClipModel(DataDir() + file, options);
  EXPECT_TRUE(model.ok()) << model.status();
  return *model;
}

void ExpectMatches(ClipModel& model, const nlohmann::json& ref, double tolerance) {
  torch::InferenceMode guard;
  const torch::Tensor text = model->EncodeText(AllTokens());
  const torch::Tensor image = model->EncodeImage(Images(2, 32, 32));
  EXPECT_LE(MaxAbsDiff(text, Floats(ref["text"], {3, 32})), tolerance);
  EXPECT_LE(MaxAbsDiff(image, Floats(ref["image"], {2, 32})), tolerance);
}

TEST(ClipModelTest, OpenAiLayoutQuickGeluMatchesOpenAiClip) {
  ClipLoadOptions options;
  options.quick_gelu = true;
  ClipModel model = Load("openai.safetensors", options);
  const ClipConfig& c = model->config();
  EXPECT_EQ(c.vision.width, 64);
  EXPECT_EQ(c.vision.layers, 2);
  EXPECT_EQ(c.vision.heads, 1);
  EXPECT_EQ(c.vision.patch_size, 8);
  EXPECT_EQ(c.vision.image_size, 32);
  EXPECT_EQ(c.text.context_length, 16);
  EXPECT_EQ(c.text.vocab_size, 512);
  EXPECT_EQ(c.embed_dim, 32);
  ExpectMatches(model, Reference()["openai_quickgelu"], 1e-4);
}

TEST(ClipModelTest, OpenAiLayoutGeluMatchesOpenClip) {
  ClipLoadOptions options;
  options.quick_gelu = false;
  ClipModel model = Load("openai.safetensors", options);
  ExpectMatches(model, Reference()["openclip_gelu"], 1e-4);
}

TEST(ClipModelTest, HuggingFaceLayoutIsDetectedAndMatchesTransformers) {
  ClipModel model = Load("hf/model.safetensors", {});  // hidden_act from config.json.
  EXPECT_TRUE(model->config().quick_gelu);
  ExpectMatches(model, Reference()["hf_quickgelu"], 1e-4);
}

TEST(ClipModelTest, TorchScriptArchiveWithFp16WeightsIsDetectedAndConverted) {
  absl::StatusOr<ClipWeights> weights =
      ReadClipWeights(DataDir() + "openai_fp16.pt", ClipWeightFormat::kAuto);
  ASSERT_TRUE(weights.ok()) << weights.status();
  EXPECT_EQ(weights->format, ClipWeightFormat::kTorchScript);
  EXPECT_EQ(weights->state.at("visual.proj").scalar_type(), torch::kFloat32);
  ClipModel model = Load("openai_fp16.pt", {});
  ExpectMatches(model, Reference()["torchscript_fp16_weights"], 1e-4);
}

TEST(ClipModelTest, IntermediateBlockOutputs) {
  ClipLoadOptions options;
  options.quick_gelu = true;
  ClipModel model = Load("openai.safetensors", options);
  torch::InferenceMode guard;
  const ClipVisionOutput out = model->visual->forward(Images(1, 32, 32), {0, 1});
  ASSERT_EQ(out.layers.size(), 2u);
  EXPECT_EQ(out.grid_h, 4);
  for (int k = 0; k < 2; ++k) {
    EXPECT_LE(
        MaxAbsDiff(out.layers[k], Floats(Reference()["openai_blocks_image0"][k], {1, 17, 64})),
        1e-4)
        << "block " << k;
  }
  EXPECT_THROW(model->visual->forward(Images(1, 32, 32), {2}), c10::Error);
}

TEST(ClipModelTest, PositionalEmbeddingInterpolationBicubicAndBilinear) {
  for (auto [mode, key] :
       {std::pair{PosEmbedInterpolation::kBicubic, "interpolated_bicubic_48x64"},
        std::pair{PosEmbedInterpolation::kBilinear, "interpolated_bilinear_48x64"}}) {
    ClipLoadOptions options;
    options.quick_gelu = true;
    options.interpolation = mode;
    ClipModel model = Load("openai.safetensors", options);
    torch::InferenceMode guard;
    const torch::Tensor image = model->EncodeImage(Images(1, 48, 64));  // 6 x 8 patches.
    EXPECT_LE(MaxAbsDiff(image, Floats(Reference()[key], {1, 32})), 1e-4) << key;
    EXPECT_THROW(model->EncodeImage(Images(1, 30, 32)), c10::Error);  // Not a patch multiple.
  }
}

TEST(ClipModelTest, Bf16StaysCloseToFp32) {
  ClipLoadOptions options;
  options.quick_gelu = true;
  ClipModel model = Load("openai.safetensors", options);
  torch::InferenceMode guard;
  const torch::Tensor text32 = model->EncodeText(AllTokens());
  const torch::Tensor image32 = model->EncodeImage(Images(2, 32, 32));
  model->to(torch::kBFloat16);
  model->visual->ClearCache();
  const torch::Tensor text16 = model->EncodeText(AllTokens()).to(torch::kFloat32);
  const torch::Tensor image16 = model->EncodeImage(Images(2, 32, 32)).to(torch::kFloat32);
  // bf16 keeps 8 mantissa bits; through 2 blocks per tower the embeddings stay within
  // 0.1 absolute of fp32 (values of order 1) and at cosine >= 0.999.
  EXPECT_LE(MaxAbsDiff(text16, text32), 0.1);
  EXPECT_LE(MaxAbsDiff(image16, image32), 0.1);
  EXPECT_GE(torch::cosine_similarity(text16, text32, 1).min().item<double>(), 0.999);
  EXPECT_GE(torch::cosine_similarity(image16, image32, 1).min().item<double>(), 0.999);
}

TEST(ClipModelTest, TextOfDifferentPaddingLengthsAgrees) {
  ClipLoadOptions options;
  options.quick_gelu = true;
  ClipModel model = Load("openai.safetensors", options);
  torch::InferenceMode guard;
  const torch::Tensor all = model->EncodeText(AllTokens());
  const torch::Tensor first = model->EncodeText(AllTokens().narrow(0, 0, 1));  // Shorter cut.
  EXPECT_LE(MaxAbsDiff(all.narrow(0, 0, 1), first), 1e-5);
}

TEST(ClipModelTest, OpenAiSafetensorsWithoutActivationFlagIsRefused) {
  absl::StatusOr<ClipModel> model = LoadClipModel(DataDir() + "openai.safetensors", {});
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("does not record its activation; set quick_gelu"),
            std::string::npos)
      << model.status();
}

TEST(ClipModelTest, MissingUnexpectedAndMisshapedKeysAreNamed) {
  absl::StatusOr<ClipWeights> weights =
      ReadClipWeights(DataDir() + "openai.safetensors", ClipWeightFormat::kOpenAi);
  ASSERT_TRUE(weights.ok());
  std::map<std::string, torch::Tensor> state = weights->state;
  auto config = InferClipConfig(state, true);
  ASSERT_TRUE(config.ok());
  state.erase("ln_final.bias");
  state["visual.ln_post.weight"] = torch::zeros({63});
  state["extra.weight"] = torch::zeros({1});
  ClipModel model(*config);
  const absl::Status s = LoadClipState(model, state);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  const std::string m(s.message());
  EXPECT_NE(m.find("missing [ln_final.bias]"), std::string::npos) << m;
  EXPECT_NE(m.find("unexpected [extra.weight]"), std::string::npos) << m;
  EXPECT_NE(m.find("mis-shaped [visual.ln_post.weight [63] (model [64])]"), std::string::npos) << m;
  state = weights->state;
  state["visual.transformer.resblocks.0.ln_1.weight"] = torch::zeros({64});
  state.erase("visual.conv1.weight");
  EXPECT_EQ(InferClipConfig(state, true).status().message(),
            "clip: missing \"visual.conv1.weight\"");
}

TEST(ClipModelTest, HuggingFaceConversionNamesUnknownKeys) {
  std::map<std::string, torch::Tensor> hf = {{"text_model.mystery.weight", torch::zeros({1})}};
  EXPECT_EQ(ConvertHuggingFaceClip(hf).status().message(),
            "clip (hf): unexpected keys [text_model.mystery.weight]");
  hf = {{"vision_model.encoder.layers.0.self_attn.q_proj.weight", torch::zeros({64, 64})}};
  EXPECT_NE(std::string(ConvertHuggingFaceClip(hf).status().message()).find("needs q, k and v"),
            std::string::npos);
}

TEST(ClipModelTest, TextFingerprintFollowsTextWeightsAndActivation) {
  ClipLoadOptions quick;
  quick.quick_gelu = true;
  ClipLoadOptions gelu;
  gelu.quick_gelu = false;
  ClipModel openai = Load("openai.safetensors", quick);
  ClipModel hf = Load("hf/model.safetensors", {});
  ClipModel openclip = Load("openai.safetensors", gelu);
  ClipModel fp16 = Load("openai_fp16.pt", {});
  const std::string f = ClipTextFingerprint(openai);
  EXPECT_EQ(f.size(), 64u);
  EXPECT_EQ(f, ClipTextFingerprint(hf));  // Same weights, other layout.
  EXPECT_NE(f, ClipTextFingerprint(openclip));
  EXPECT_NE(f, ClipTextFingerprint(fp16));
  {
    torch::NoGradGuard no_grad;
    openai->visual->proj.add_(1.0f);  // The image tower does not define text embeddings.
  }
  EXPECT_EQ(f, ClipTextFingerprint(openai));
}

}  // namespace
}  // namespace ovseg

namespace ovseg {
namespace {

// CUDA fp16 and bf16 against fp32 on CPU. Skipped where no GPU is present (this machine);
// runs wherever the suite runs on a GPU machine.
TEST(ClipModelTest, CudaHalfPrecisionsStayCloseToCpuFp32) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  ClipLoadOptions options;
  options.quick_gelu = true;
  ClipModel model = Load("openai.safetensors", options);
  torch::InferenceMode guard;
  const torch::Tensor text32 = model->EncodeText(AllTokens());
  const torch::Tensor image32 = model->EncodeImage(Images(2, 32, 32));
  for (torch::ScalarType dtype : {torch::kFloat16, torch::kBFloat16}) {
    model->to(torch::Device(torch::kCUDA), dtype);
    model->visual->ClearCache();
    const torch::Tensor text = model->EncodeText(AllTokens().cuda()).cpu();
    const torch::Tensor image = model->EncodeImage(Images(2, 32, 32).cuda()).cpu();
    EXPECT_GE(torch::cosine_similarity(text.to(torch::kFloat32), text32, 1).min().item<double>(),
              0.999);
    EXPECT_GE(torch::cosine_similarity(image.to(torch::kFloat32), image32, 1).min().item<double>(),
              0.999);
  }
}

}  // namespace
}  // namespace ovseg
