// The CLIP text encoder behind the vocabulary cache: batching by length returns each
// prompt's own embedding in input order, and the cache's label embeddings are the
// normalised prompt-template ensembles of those embeddings.
#include "model/clip/clip_text_encoder.h"

#include <gtest/gtest.h>

#include "model/clip/clip_weights.h"
#include "model/clip/prompt_templates.h"
#include "server/vocabulary/label_set.h"
#include "server/vocabulary/vocabulary_cache.h"

namespace ovseg {
namespace {

// A narrow random CLIP with the full 49408-token vocabulary, so real prompts tokenize.
ClipModel RandomTextModel() {
  torch::manual_seed(3);
  ClipConfig c;
  c.vision = {64, 1, 1, 8, 16};
  c.text = {64, 2, 1, 77, 49408};
  c.embed_dim = 32;
  ClipModel model(c);
  model->eval();
  return model;
}

torch::Tensor Direct(ClipModel& model, const std::string& prompt) {
  torch::InferenceMode guard;
  const std::vector<int> ids = ClipTokenizer::Default().Tokenize(prompt);
  return model->EncodeText(
      torch::tensor(std::vector<int64_t>(ids.begin(), ids.end())).unsqueeze(0))[0];
}

TEST(ClipTextEncoderTest, BatchedLengthSortedEncodingKeepsInputOrder) {
  ClipModel model = RandomTextModel();
  ClipTextEncoder encoder(model, ClipTokenizer::Default(), /*max_batch=*/2);
  EXPECT_EQ(encoder.EmbeddingDim(), 32);
  EXPECT_EQ(encoder.Fingerprint(), ClipTextFingerprint(model));
  const std::vector<std::string> prompts = {"a photo of a very large red fire hydrant.", "cat",
                                            "There is a small dog in the scene.", "sky", "a b c d"};
  absl::StatusOr<std::vector<float>> out = encoder.Encode(prompts);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->size(), prompts.size() * 32);
  for (size_t i = 0; i < prompts.size(); ++i) {
    const torch::Tensor expected = Direct(model, prompts[i]);
    const torch::Tensor got = torch::from_blob(out->data() + i * 32, {32}).clone();
    EXPECT_LE((got - expected).abs().max().item<double>(), 1e-5) << prompts[i];
  }
  EXPECT_TRUE(encoder.Encode({}).ok());
}

TEST(ClipTextEncoderTest, PluggedIntoTheVocabularyCache) {
  ClipModel model = RandomTextModel();
  auto encoder = std::make_shared<ClipTextEncoder>(model, ClipTokenizer::Default());
  VocabularyCacheOptions options;
  options.prompt_templates = *PromptTemplateSet("vild");
  VocabularyCache cache(options);
  google::protobuf::RepeatedPtrField<v1::Label> labels;
  labels.Add()->set_name("fire hydrant,hydrant");
  labels.Add()->set_name("Cat");
  absl::StatusOr<std::vector<ParsedLabel>> parsed = ParseLabels(labels, LabelLimits{});
  ASSERT_TRUE(parsed.ok());
  auto vocab = cache.Get(*parsed, *encoder);
  ASSERT_TRUE(vocab.ok()) << vocab.status();
  ASSERT_EQ((*vocab)->num_labels, 2);
  ASSERT_EQ((*vocab)->dim, 32);
  // Label 0: both synonyms x 14 templates, each normalised, averaged, normalised.
  torch::Tensor sum = torch::zeros({32});
  for (const char* synonym : {"fire hydrant", "hydrant"}) {
    for (const std::string& t : options.prompt_templates) {
      const torch::Tensor e = Direct(model, FillTemplate(t, synonym));
      sum += e / e.norm();
    }
  }
  const torch::Tensor expected = sum / sum.norm();
  const torch::Tensor got =
      torch::from_blob(const_cast<float*>((*vocab)->data.data()), {32}).clone();
  EXPECT_LE((got - expected).abs().max().item<double>(), 1e-5);
  // The cache key carries the encoder's fingerprint.
  EXPECT_EQ((*vocab)->key.rfind(encoder->Fingerprint() + "|", 0), 0u);
}

}  // namespace
}  // namespace ovseg

#include "model/serving/model_factory.h"

namespace ovseg {
namespace {

std::string TinyWeights() {
  const char* root = std::getenv("OVSEG_SOURCE_DIR");
  return std::string(root ? root : ".") + "/tests/data/clip_tiny/openai.safetensors";
}

TEST(ModelFactoryTest, BuildsTheClipTextEncoderFromConfig) {
  v1::ModelConfig config;
  config.set_clip_weights(TinyWeights());
  config.set_clip_quick_gelu(true);
  config.set_precision("bf16");
  absl::StatusOr<std::shared_ptr<TextEncoder>> encoder = CreateClipTextEncoder(config);
  ASSERT_TRUE(encoder.ok()) << encoder.status();
  EXPECT_EQ((*encoder)->EmbeddingDim(), 32);
  config.set_precision("fp32");
  auto fp32 = CreateClipTextEncoder(config);
  ASSERT_TRUE(fp32.ok());
  EXPECT_NE((*fp32)->Fingerprint(), (*encoder)->Fingerprint());  // bf16 weights differ.
}

TEST(ModelFactoryTest, ConfigErrorsNameTheField) {
  v1::ModelConfig config;
  EXPECT_EQ(CreateClipTextEncoder(config).status().message(), "model.clip_weights is required");
  config.set_clip_weights(TinyWeights());
  EXPECT_NE(std::string(CreateClipTextEncoder(config).status().message()).find("set quick_gelu"),
            std::string::npos);
  config.set_clip_quick_gelu(true);
  config.set_precision("fp16");
  EXPECT_EQ(CreateClipTextEncoder(config).status().message(),
            "model.precision \"fp16\" runs on CUDA only (use bf16 on CPU)");
  config.set_precision("fp32");
  config.set_clip_format("onnx");
  EXPECT_NE(std::string(CreateClipTextEncoder(config).status().message()).find("model.clip_format"),
            std::string::npos);
  config.set_clip_format("auto");
  config.set_pos_embed_interpolation("nearest");
  EXPECT_NE(std::string(CreateClipTextEncoder(config).status().message())
                .find("model.pos_embed_interpolation \"nearest\""),
            std::string::npos);
  config.set_pos_embed_interpolation("");
  config.set_preset("fovseg-vit-b16");
  absl::StatusOr<ServingModel> model = CreateServingModel(config);
  ASSERT_TRUE(model.ok()) << model.status();
  const PipelineInfo info = model->pipeline->Info();
  EXPECT_EQ(info.model_name, "fovseg-vit-b16");
  EXPECT_FALSE(info.generates_masks);  // Client regions only until Mask2Former lands.
  EXPECT_EQ(info.model_version.rfind("clip-", 0), 0u);
  config.clear_clip_weights();
  const absl::Status s = CreateServingModel(config).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(std::string(s.message()).find("no model.clip_weights are configured"),
            std::string::npos)
      << s;
}

}  // namespace
}  // namespace ovseg
