// The Mask2Former port against HuggingFace transformers' implementation (vectors from
// scripts/testdata/make_mask2former_reference.py): multi-scale deformable attention and
// the whole pixel decoder with random weights loaded under HF's key names.
#include <gtest/gtest.h>

#include <cstdlib>

#include "model/mask2former/deformable_attention.h"
#include "model/mask2former/pixel_decoder.h"
#include "model/mask2former/position_encoding.h"
#include "model/weights/safetensors_file.h"
#include "tests/fakes/stored_tensor.h"

namespace ovseg {
namespace {

using testing::StoredTensor;

std::shared_ptr<SafetensorsFile> Reference() {
  const char* root = std::getenv("OVSEG_SOURCE_DIR");
  auto file = SafetensorsFile::Open(std::string(root ? root : ".") +
                                    "/tests/data/mask2former_tiny/pixel_decoder.safetensors");
  EXPECT_TRUE(file.ok()) << file.status();
  return *file;
}

double MaxDiff(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a.to(torch::kFloat32) - b.to(torch::kFloat32)).abs().max().item<double>();
}

TEST(Mask2FormerTest, DeformableAttentionMatchesTheReference) {
  auto f = Reference();
  for (DeformableSampling sampling : {DeformableSampling::kGridSample, DeformableSampling::kGather,
                                      DeformableSampling::kCpuKernel}) {
    const torch::Tensor out = MultiScaleDeformableAttention(
        StoredTensor(*f, "msda.value"), {{5, 7}, {3, 4}}, StoredTensor(*f, "msda.locations"),
        StoredTensor(*f, "msda.weights"), sampling);
    EXPECT_LE(MaxDiff(out, StoredTensor(*f, "msda.output")), 1e-5) << static_cast<int>(sampling);
  }
}

TEST(Mask2FormerTest, SinePositionsAreNormalisedPerAxis) {
  const torch::Tensor pos = SinePositionEncoding(1, 3, 5, 8, torch::TensorOptions());
  ASSERT_EQ(pos.sizes(), (std::vector<int64_t>{1, 16, 3, 5}));
  // Channel 0 is sin(y * 2pi / 3 * ...): at the last row y = 2*pi exactly (cumsum / total).
  EXPECT_NEAR(pos[0][0][2][0].item<float>(), std::sin(2 * M_PI / (1 + 1e-6 / 3)), 1e-5);
  // x channels (second half) do not depend on the row.
  EXPECT_TRUE(torch::allclose(pos[0][8].select(0, 0), pos[0][8].select(0, 2)));
}

TEST(Mask2FormerTest, PixelDecoderMatchesHuggingFace) {
  auto f = Reference();
  PixelDecoderConfig config;
  config.in_channels = {16, 32, 48, 64};
  config.feature_dim = 64;
  config.mask_dim = 64;
  config.heads = 8;
  config.encoder_layers = 2;
  config.ffn_dim = 128;
  PixelDecoder decoder(config);
  decoder->eval();
  const std::string prefix = "model.pixel_level_module.decoder.";
  torch::NoGradGuard no_grad;
  size_t loaded = 0;
  for (auto& p : decoder->named_parameters(/*recurse=*/true)) {
    ASSERT_TRUE(f->Contains(prefix + p.key())) << p.key();
    p.value().copy_(StoredTensor(*f, prefix + p.key()));
    ++loaded;
  }
  for (auto& b : decoder->named_buffers(/*recurse=*/true)) ADD_FAILURE() << "buffer " << b.key();
  size_t stored = 0;
  for (const std::string& name : f->Names()) stored += name.rfind(prefix, 0) == 0;
  EXPECT_EQ(loaded, stored);  // Every HF tensor has a home, and nothing is left over.

  std::vector<torch::Tensor> features;
  for (int i = 0; i < 4; ++i)
    features.push_back(StoredTensor(*f, "input.level_" + std::to_string(i)));
  const PixelDecoderOutput out = decoder->forward(features);
  EXPECT_LE(MaxDiff(out.mask_features, StoredTensor(*f, "output.mask_features")), 1e-4);
  ASSERT_EQ(out.multi_scale.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_LE(
        MaxDiff(out.multi_scale[i], StoredTensor(*f, "output.multi_scale_" + std::to_string(i))),
        1e-4)
        << i;
  }
  // bf16 on CPU follows fp32 closely.
  decoder->to(torch::kBFloat16);
  for (auto& t : features) t = t.to(torch::kBFloat16);
  const PixelDecoderOutput half = decoder->forward(features);
  EXPECT_GT(torch::nn::functional::cosine_similarity(
                half.mask_features.to(torch::kFloat32).flatten(), out.mask_features.flatten(),
                torch::nn::functional::CosineSimilarityFuncOptions().dim(0))
                .item<double>(),
            0.99);
}

}  // namespace
}  // namespace ovseg
