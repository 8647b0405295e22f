// The whole Mask2Former against HuggingFace transformers' Mask2FormerForUniversalSegmentation
// with the same random weights (scripts/testdata/make_mask2former_model_reference.py), for
// an R50-like (bottleneck ResNet) and a Swin-like config, loaded through the HF key
// mapping; plus the loader's reports, the HF-named round trip, odd sizes, determinism.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "model/mask2former/mask2former_loss.h"
#include "model/mask2former/mask2former_weights.h"
#include "model/weights/safetensors_file.h"
#include "tests/fakes/stored_tensor.h"
#include "tests/fakes/tensor_compare.h"

namespace ovseg {
namespace {

std::string DataPath(const std::string& name) {
  const char* root = std::getenv("OVSEG_SOURCE_DIR");
  return std::string(root ? root : ".") + "/tests/data/mask2former_tiny/" + name;
}

torch::Tensor Get(const SafetensorsFile& f, const std::string& name) {
  return testing::StoredTensor(f, name);
}

using testing::RelativeDiff;

Mask2FormerLoadOptions TestOptions() {
  Mask2FormerLoadOptions o;
  o.heads = 4;
  return o;
}

class Mask2FormerModelTest : public ::testing::TestWithParam<std::string> {};

TEST_P(Mask2FormerModelTest, MatchesHuggingFaceWithTheSameWeights) {
  absl::StatusOr<Mask2Former> model =
      LoadMask2Former(DataPath(GetParam() + "_weights.safetensors"), TestOptions());
  ASSERT_TRUE(model.ok()) << model.status();
  auto vectors = SafetensorsFile::Open(DataPath(GetParam() + "_vectors.safetensors"));
  ASSERT_TRUE(vectors.ok()) << vectors.status();
  const SafetensorsFile& v = **vectors;
  torch::NoGradGuard no_grad;
  const torch::Tensor pixels = Get(v, "input.pixel_values");
  const std::vector<torch::Tensor> features = (*model)->backbone().Features(pixels);
  for (int i = 0; i < 4; ++i) {
    EXPECT_LE(RelativeDiff(features[i], Get(v, "output.backbone_" + std::to_string(i))), 1e-5)
        << "backbone level " << i;
  }
  const std::vector<MaskPrediction> out = (*model)->forward(pixels);
  ASSERT_EQ(out.size(), 5u);  // initial + 4 layers, as HF's auxiliary + final outputs
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_LE(RelativeDiff(out[i].class_logits, Get(v, "output.class_logits_" + std::to_string(i))),
              1e-4)
        << "stage " << i;
    EXPECT_LE(RelativeDiff(out[i].mask_logits, Get(v, "output.mask_logits_" + std::to_string(i))),
              1e-4)
        << "stage " << i;
  }
  // Inference computes the final prediction only (earlier attention masks at the levels'
  // resolution), with the same result.
  const std::vector<MaskPrediction> last = (*model)->forward(pixels, /*all_stages=*/false);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_LE(RelativeDiff(last[0].mask_logits, Get(v, "output.mask_logits_4")), 1e-4);
  EXPECT_LE(RelativeDiff(last[0].class_logits, Get(v, "output.class_logits_4")), 1e-4);
}

TEST_P(Mask2FormerModelTest, InfersTheConfigFromShapes) {
  auto file = SafetensorsFile::Open(DataPath(GetParam() + "_weights.safetensors"));
  ASSERT_TRUE(file.ok());
  absl::StatusOr<Mask2FormerConfig> c = InferMask2FormerConfig(**file, TestOptions());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->decoder.queries, 10);
  EXPECT_EQ(c->decoder.layers, 4);
  EXPECT_EQ(c->decoder.num_classes, 5);
  EXPECT_EQ(c->decoder.hidden_dim, 64);
  EXPECT_EQ(c->decoder.ffn_dim, 128);
  EXPECT_EQ(c->pixel_decoder.encoder_layers, 2);
  EXPECT_EQ(c->pixel_decoder.feature_dim, 64);
  EXPECT_FALSE(c->pixel_decoder.positions_in_features);  // Mask2Former's own
  EXPECT_FALSE(c->pixel_decoder.positions_in_mask_features);
  if (GetParam() == "swin") {
    EXPECT_EQ(c->backbone, Mask2FormerConfig::Backbone::kSwin);
    EXPECT_EQ(c->swin.embed_dim, 8);
    EXPECT_EQ(c->swin.window, 4);
    EXPECT_EQ(c->swin.heads, (std::vector<int64_t>{1, 2, 2, 4}));
    EXPECT_EQ(c->swin.depths, (std::vector<int64_t>{2, 2, 2, 2}));
  } else {
    EXPECT_EQ(c->backbone, Mask2FormerConfig::Backbone::kResNet);
    EXPECT_TRUE(c->resnet.bottleneck);
    EXPECT_EQ(c->resnet.stem_width, 16);
    EXPECT_EQ(c->resnet.depths, (std::vector<int64_t>{1, 1, 2, 1}));
    EXPECT_EQ(c->resnet.widths, (std::vector<int64_t>{32, 64, 96, 128}));
  }
  // Head counts are not in the shapes: a wrong guess is caught where it shows.
  Mask2FormerLoadOptions wrong;
  wrong.heads = 3;
  absl::StatusOr<Mask2FormerConfig> bad = InferMask2FormerConfig(**file, wrong);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("heads x points"), std::string::npos) << bad.status();
}

TEST_P(Mask2FormerModelTest, RoundTripsThroughHfNames) {
  absl::StatusOr<Mask2Former> model =
      LoadMask2Former(DataPath(GetParam() + "_weights.safetensors"), TestOptions());
  ASSERT_TRUE(model.ok()) << model.status();
  const std::string path = ::testing::TempDir() + "/m2f_roundtrip_" + GetParam() + ".safetensors";
  ASSERT_TRUE(WriteMask2Former(path, *model).ok());
  // The written keys are exactly the reference's, less the ones we deliberately skip.
  auto original = SafetensorsFile::Open(DataPath(GetParam() + "_weights.safetensors"));
  auto written = SafetensorsFile::Open(path);
  ASSERT_TRUE(original.ok() && written.ok());
  std::set<std::string> expected;
  for (const std::string& k : (*original)->Names()) {
    if (k != "criterion.empty_weight" && k.find("relative_position_index") == std::string::npos) {
      expected.insert(k);
    }
  }
  const std::vector<std::string> names = (*written)->Names();
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()), expected);
  absl::StatusOr<Mask2Former> again = LoadMask2Former(path, TestOptions());
  ASSERT_TRUE(again.ok()) << again.status();
  auto a = (*model)->named_parameters(), b = (*again)->named_parameters();
  for (const auto& p : a) EXPECT_TRUE(torch::equal(p.value(), b[p.key()])) << p.key();
}

// The tiny generators' positions in the pixel decoder's features and in its mask features
// (not Mask2Former's) are in the weights file: a model written with either loads with it
// and computes the same, and the projection is used (zeroing it changes the masks).
class Mask2FormerPositionsTest : public ::testing::TestWithParam<std::string> {};

TEST_P(Mask2FormerPositionsTest, TravelWithTheWeights) {
  torch::manual_seed(4);
  const bool in_mask_features = GetParam() == "mask_features";
  Mask2FormerConfig config = Mask2FormerConfig::TinyResNet();
  config.pixel_decoder.positions_in_features = !in_mask_features;
  config.pixel_decoder.positions_in_mask_features = in_mask_features;
  Mask2Former model(config);
  model->eval();
  const std::string path = ::testing::TempDir() + "/m2f_positions_" + GetParam() + ".safetensors";
  ASSERT_TRUE(WriteMask2Former(path, model).ok());
  auto file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  absl::StatusOr<Mask2FormerConfig> inferred = InferMask2FormerConfig(**file, TestOptions());
  ASSERT_TRUE(inferred.ok()) << inferred.status();
  EXPECT_EQ(inferred->pixel_decoder.positions_in_features, !in_mask_features);
  EXPECT_EQ(inferred->pixel_decoder.positions_in_mask_features, in_mask_features);
  EXPECT_NE(inferred->Describe().find(in_mask_features ? "positions in mask features"
                                                       : "positions in features"),
            std::string::npos);
  absl::StatusOr<Mask2Former> again = LoadMask2Former(path, TestOptions());
  ASSERT_TRUE(again.ok()) << again.status();
  (*again)->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor images = torch::randn({1, 3, 64, 96});
  EXPECT_TRUE(torch::equal(model->forward(images, false).back().mask_logits,
                           (*again)->forward(images, false).back().mask_logits));
  const std::string projection =
      in_mask_features ? "mask_position_projection" : "pixel_decoder.position_projection";
  int zeroed = 0;
  for (auto& p : (*again)->named_parameters()) {
    if (p.key().find(projection) != std::string::npos) {
      p.value().zero_();
      ++zeroed;
    }
  }
  EXPECT_EQ(zeroed, 2);  // weight and bias
  EXPECT_FALSE(torch::equal(model->forward(images, false).back().mask_logits,
                            (*again)->forward(images, false).back().mask_logits));
}

INSTANTIATE_TEST_SUITE_P(Where, Mask2FormerPositionsTest,
                         ::testing::Values("encoder_inputs", "mask_features"));

TEST_P(Mask2FormerModelTest, LossEqualsHuggingFaceOnTheSameRandomStream) {
  absl::StatusOr<Mask2Former> model =
      LoadMask2Former(DataPath(GetParam() + "_weights.safetensors"), TestOptions());
  ASSERT_TRUE(model.ok()) << model.status();
  auto vectors = SafetensorsFile::Open(DataPath(GetParam() + "_vectors.safetensors"));
  ASSERT_TRUE(vectors.ok());
  const SafetensorsFile& v = **vectors;
  std::vector<MaskPrediction> stages;
  for (int i = 0; i < 5; ++i) {
    stages.push_back({Get(v, "output.class_logits_" + std::to_string(i)),
                      Get(v, "output.mask_logits_" + std::to_string(i))});
  }
  std::vector<SegmentTargets> targets;
  for (int i = 0; i < 2; ++i) {
    targets.push_back({Get(v, "target.masks_" + std::to_string(i)),
                       Get(v, "target.labels_" + std::to_string(i)), torch::Tensor()});
  }
  // HF's defaults: 12544 importance-sampled points, no-object weight 0.1.
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(7);
  absl::StatusOr<Mask2FormerLosses> losses =
      ComputeMask2FormerLoss(stages, targets, Mask2FormerLossOptions(), generator);
  ASSERT_TRUE(losses.ok()) << losses.status();
  double ce = 0, bce = 0, dice = 0;
  for (const std::string suffix : {"", "_0", "_1", "_2", "_3"}) {
    ce += Get(v, "loss.loss_cross_entropy" + suffix).item<double>();
    bce += Get(v, "loss.loss_mask" + suffix).item<double>();
    dice += Get(v, "loss.loss_dice" + suffix).item<double>();
  }
  // The mask terms are read at importance-sampled points: the most uncertain of the
  // oversampled ones, a top-k over values that tie to the last bits. On an Intel Xeon with
  // AVX512-FP16 (the vectors were made on an AMD EPYC) the Swin vectors' mask terms came
  // out 6e-4 off while the class term agreed to 1e-4: a few sampled points differ where
  // fp32 kernels round differently. Those terms get 2e-3; a wrong term or weight is off by
  // far more.
  EXPECT_NEAR(losses->classification.item<double>(), ce, 1e-4 * ce);
  EXPECT_NEAR(losses->mask_bce.item<double>(), bce, 2e-3 * bce);
  EXPECT_NEAR(losses->mask_dice.item<double>(), dice, 2e-3 * dice);
  EXPECT_NEAR(losses->total.item<double>(), 2 * ce + 5 * bce + 5 * dice,
              2e-3 * (ce + bce + dice) * 5);
}

INSTANTIATE_TEST_SUITE_P(Backbones, Mask2FormerModelTest, ::testing::Values("resnet", "swin"));

// Unlabelled objects are not taught to be background: an unmatched query covering mostly
// unannotated pixels leaves the classification loss; the others, matched ones included,
// stay.
TEST(Mask2FormerLossTest, LeavesOutUnmatchedQueriesOnUnannotatedPixels) {
  using torch::indexing::Slice;
  const torch::Tensor class_logits = torch::tensor({{{2.0f, 0.0f}, {0.0f, 1.0f}, {1.0f, 1.0f}}});
  torch::Tensor mask_logits = torch::full({1, 3, 8, 8}, -10.0f);
  mask_logits.index_put_({0, 0, Slice(), Slice(0, 4)}, 10.0f);      // the labelled object
  mask_logits.index_put_({0, 1, Slice(0, 4), Slice(4, 8)}, 10.0f);  // an unlabelled one
  mask_logits.index_put_({0, 2, Slice(4, 8), Slice(4, 8)}, 10.0f);  // annotated background
  torch::Tensor target = torch::zeros({1, 8, 8});
  target.index_put_({0, Slice(), Slice(0, 4)}, 1.0f);
  torch::Tensor unannotated = torch::zeros({8, 8});
  unannotated.index_put_({Slice(0, 4), Slice(4, 8)}, 1.0f);
  std::vector<SegmentTargets> targets = {{target, torch::zeros({1}, torch::kLong), unannotated}};
  Mask2FormerLossOptions options;
  options.num_points = 256;
  options.unannotated_overlap = 0.5;
  const auto ce = [](const torch::Tensor& logits, int64_t label) {
    return -torch::log_softmax(logits, 0)[label].item<double>();
  };
  const double q0 = ce(class_logits[0][0], 0), q1 = ce(class_logits[0][1], 1),
               q2 = ce(class_logits[0][2], 1);
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(1);
  absl::StatusOr<Mask2FormerLosses> with =
      ComputeMask2FormerLoss({{class_logits, mask_logits}}, targets, options, generator);
  ASSERT_TRUE(with.ok()) << with.status();
  EXPECT_NEAR(with->classification.item<double>(), (q0 + 0.1 * q2) / 1.1, 1e-5);
  options.unannotated_overlap = 2.0;  // the rule off: every unmatched query targets void
  absl::StatusOr<Mask2FormerLosses> without =
      ComputeMask2FormerLoss({{class_logits, mask_logits}}, targets, options, generator);
  ASSERT_TRUE(without.ok());
  EXPECT_NEAR(without->classification.item<double>(), (q0 + 0.1 * q1 + 0.1 * q2) / 1.2, 1e-5);
  // A matched query stays whatever lies under it.
  targets[0].unannotated = torch::ones({8, 8});
  options.unannotated_overlap = 0.5;
  absl::StatusOr<Mask2FormerLosses> all =
      ComputeMask2FormerLoss({{class_logits, mask_logits}}, targets, options, generator);
  ASSERT_TRUE(all.ok());
  EXPECT_NEAR(all->classification.item<double>(), q0, 1e-5);
}

TEST(Mask2FormerWeightsTest, MapsEveryHfFamilyOfKeys) {
  EXPECT_EQ(*HfToOvsegName("model.pixel_level_module.encoder.embedder.embedder.convolution.weight"),
            "backbone.conv1.weight");
  EXPECT_EQ(*HfToOvsegName(
                "model.pixel_level_module.encoder.encoder.stages.2.layers.1.layer.2.normalization."
                "running_var"),
            "backbone.layer3.1.bn3.running_var");
  EXPECT_EQ(*HfToOvsegName(
                "model.pixel_level_module.encoder.encoder.stages.0.layers.0.shortcut.convolution."
                "weight"),
            "backbone.layer1.0.downsample.0.weight");
  EXPECT_EQ(*HfToOvsegName("model.pixel_level_module.encoder.encoder.layers.1.blocks.0.attention."
                           "self.query.weight"),
            "backbone.encoder.layers.1.blocks.0.attention.self.query.weight");
  EXPECT_EQ(*HfToOvsegName("model.transformer_module.decoder.layers.3.cross_attn.in_proj_weight"),
            "transformer.decoder.layers.3.cross_attn.in_proj_weight");
  EXPECT_EQ(*HfToOvsegName("class_predictor.bias"), "transformer.class_predictor.bias");
  EXPECT_EQ(*HfToOvsegName("model.pixel_level_module.decoder.adapter_1.0.weight"),
            "pixel_decoder.adapter_1.0.weight");
  EXPECT_EQ(*HfToOvsegName("criterion.empty_weight"), "");
  EXPECT_FALSE(HfToOvsegName("model.something_else.weight").has_value());
  // And back.
  for (const char* name :
       {"backbone.conv1.weight", "backbone.layer3.1.bn3.running_var",
        "backbone.layer1.0.downsample.1.bias", "backbone.layer4.0.conv2.weight"}) {
    EXPECT_EQ(*HfToOvsegName(OvsegToHfName(name, Mask2FormerConfig::Backbone::kResNet)), name);
  }
}

TEST(Mask2FormerWeightsTest, ReportsMissingAndUnexpectedKeysByName) {
  auto file = SafetensorsFile::Open(DataPath("resnet_weights.safetensors"));
  ASSERT_TRUE(file.ok());
  auto all = (*file)->GetAll();
  ASSERT_TRUE(all.ok());
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (auto& [k, t] : *all) {
    if (k == "model.transformer_module.decoder.layers.1.fc2.bias") continue;  // missing
    tensors.emplace_back(k, t);
  }
  tensors.emplace_back("model.transformer_module.extra_head.weight", torch::zeros({2}));
  const std::string path = ::testing::TempDir() + "/m2f_broken.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, tensors).ok());
  absl::StatusOr<Mask2Former> model = LoadMask2Former(path, TestOptions());
  ASSERT_FALSE(model.ok());
  const std::string message(model.status().message());
  EXPECT_NE(message.find("missing [model.transformer_module.decoder.layers.1.fc2.bias]"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("unexpected [model.transformer_module.extra_head.weight]"),
            std::string::npos)
      << message;
}

TEST(Mask2FormerModelShapes, AnyPaddedSizeAndDeterministic) {
  torch::manual_seed(3);
  for (Mask2FormerConfig config :
       {Mask2FormerConfig::TinyResNet(), Mask2FormerConfig::TinySwin()}) {
    Mask2Former model(config);
    model->eval();
    torch::NoGradGuard no_grad;
    const torch::Tensor images = torch::randn({1, 3, 96, 160});
    const std::vector<MaskPrediction> a = model->forward(images, false);
    const std::vector<MaskPrediction> b = model->forward(images, false);
    EXPECT_EQ(a.back().mask_logits.sizes(), (std::vector<int64_t>{1, 50, 24, 40}));
    EXPECT_EQ(a.back().class_logits.sizes(), (std::vector<int64_t>{1, 50, 2}));
    EXPECT_TRUE(torch::equal(a.back().mask_logits, b.back().mask_logits));
    EXPECT_THROW(model->forward(torch::randn({1, 3, 100, 160})), c10::Error);
  }
}

TEST(MaskedAttentionTest, FullyBlockedRowsAttendEverywhere) {
  // Query 0: all logits negative (would block every position) -> unblocked entirely.
  // Query 1: positive on the left half only -> blocked on the right half.
  torch::Tensor logits = torch::full({1, 2, 4, 4}, -5.0);
  logits[0][1].narrow(1, 0, 2).fill_(5.0);
  const torch::Tensor blocked = MaskedAttentionBlocked(logits, 4, 4);
  EXPECT_FALSE(blocked[0][0].any().item<bool>());
  EXPECT_EQ(blocked[0][1].sum().item<int64_t>(), 8);
  EXPECT_FALSE(blocked[0][1][0].item<bool>());
  EXPECT_TRUE(blocked[0][1][3].item<bool>());
}

}  // namespace
}  // namespace ovseg
