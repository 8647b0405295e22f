// The training job's pieces besides the fovseg step: the config's stage list and defaults,
// CLIP's contrastive loss and from-scratch training, the class-agnostic generator step,
// and bf16 autocast (on inside a scope, off outside it and where suspended).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "model/clip/clip_tokenizer.h"
#include "model/runtime/autocast_scope.h"
#include "model/train/clip_pretrainer.h"
#include "model/train/fovseg_trainer.h"
#include "model/train/generator_trainer.h"
#include "model/train/train_config.h"
#include "tests/fakes/synthetic_shapes.h"

namespace ovseg {
namespace {

absl::StatusOr<v1::TrainConfig> ParseStages(const std::string& extra) {
  return ParseTrainConfig(
      "out_dir: \"/tmp/x\" data { train_json: \"a\" train_images: \"b\" train_panoptic: "
      "\"c\" }\n" +
          extra,
      "test.pbtxt");
}

TEST(TrainConfigTest, StagesDefaultToFovsegAndRunOnlyInOrder) {
  absl::StatusOr<v1::TrainConfig> plain = ParseStages("");
  ASSERT_TRUE(plain.ok()) << plain.status();
  ASSERT_EQ(plain->stages_size(), 1);
  EXPECT_EQ(plain->stages(0), "fovseg");
  EXPECT_EQ(plain->autocast(), "fp32");
  EXPECT_EQ(plain->optimizer().lr(), 1e-4);

  absl::StatusOr<v1::TrainConfig> reversed =
      ParseStages("stages: \"fovseg\" stages: \"generator\"");
  ASSERT_FALSE(reversed.ok());
  EXPECT_NE(reversed.status().message().find("\"generator\" repeated or out of order"),
            std::string::npos)
      << reversed.status();
  absl::StatusOr<v1::TrainConfig> unknown = ParseStages("stages: \"pretrain\"");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown stage \"pretrain\""), std::string::npos);
  EXPECT_FALSE(ParseStages("autocast: \"fp8\"").ok());
  // "auto" resolves at parse time: bf16 on CUDA or with the CPU's bf16 instructions.
  absl::StatusOr<v1::TrainConfig> automatic = ParseStages("autocast: \"auto\"");
  ASSERT_TRUE(automatic.ok()) << automatic.status();
  EXPECT_EQ(automatic->autocast(), CpuHasBf16Instructions() ? "bf16" : "fp32");
  EXPECT_EQ(ResolveAutocast("auto", "cpu", false), "fp32");
  EXPECT_EQ(ResolveAutocast("auto", "cpu", true), "bf16");
  EXPECT_EQ(ResolveAutocast("auto", "cuda:1", false), "bf16");
  EXPECT_EQ(ResolveAutocast("fp32", "cuda", true), "fp32");
}

// The shipped training configs parse and validate (a field renamed or a range tightened
// would break scripts/train_demo.sh only after an hour otherwise).
TEST(TrainConfigTest, ShippedConfigsLoad) {
  const char* dir = std::getenv("OVSEG_SOURCE_DIR");
  for (const char* file : {"/configs/train_demo.pbtxt", "/configs/train_fovseg_synth.pbtxt",
                           "/configs/experiments/clip_hard_negatives.pbtxt",
                           "/configs/experiments/generator_unannotated.pbtxt",
                           "/configs/experiments/generator_unnamed.pbtxt",
                           "/configs/experiments/clip_shape_negatives.pbtxt"}) {
    absl::StatusOr<v1::TrainConfig> shipped = LoadTrainConfig(std::string(dir ? dir : ".") + file);
    EXPECT_TRUE(shipped.ok()) << file << ": " << shipped.status();
  }
  absl::StatusOr<v1::TrainConfig> demo =
      LoadTrainConfig(std::string(dir ? dir : ".") + "/configs/train_demo.pbtxt");
  ASSERT_TRUE(demo.ok());
  EXPECT_EQ(demo->loss().max_classes_per_image(), 40u);
}

TEST(TrainConfigTest, ClipPretrainNeedsACorpusAndCheckedSizes) {
  absl::StatusOr<v1::TrainConfig> missing = ParseStages("stages: \"clip_pretrain\"");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("clip_pretrain.captions_json is required"),
            std::string::npos)
      << missing.status();
  const std::string corpus = "clip_pretrain { captions_json: \"c.json\" images: \"i\" ";
  absl::StatusOr<v1::TrainConfig> ok = ParseStages("stages: \"clip_pretrain\" " + corpus + "}");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->clip_pretrain().image_size(), 128u);
  EXPECT_EQ(ok->clip_pretrain().vision_width(), 128u);
  EXPECT_EQ(ok->clip_pretrain().storage(), "fp16");
  absl::StatusOr<v1::TrainConfig> narrow =
      ParseStages("stages: \"clip_pretrain\" " + corpus + "text_width: 96 }");
  ASSERT_FALSE(narrow.ok());
  EXPECT_NE(narrow.status().message().find("clip_pretrain.text_width 96 is not a multiple of 64"),
            std::string::npos)
      << narrow.status();
  absl::StatusOr<v1::TrainConfig> odd =
      ParseStages("stages: \"clip_pretrain\" " + corpus + "image_size: 100 }");
  EXPECT_FALSE(odd.ok());
  absl::StatusOr<v1::TrainConfig> generator =
      ParseStages("stages: \"generator\" generator { architecture: \"r50\" }");
  ASSERT_FALSE(generator.ok());
  EXPECT_NE(generator.status().message().find("generator.architecture \"r50\""), std::string::npos);
  absl::StatusOr<v1::TrainConfig> full = ParseStages("stages: \"generator\"");
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->generator().mask_target_stride(), 1u);  // Mask2Former's full-size targets
  absl::StatusOr<v1::TrainConfig> stride =
      ParseStages("stages: \"generator\" generator { mask_target_stride: 2 }");
  ASSERT_FALSE(stride.ok());
  EXPECT_NE(stride.status().message().find("generator.mask_target_stride 2: expected 1 or 4"),
            std::string::npos)
      << stride.status();
}

// The generator trains on data.train_* unless it names its own split (all three paths).
TEST(TrainConfigTest, GeneratorDataDefaultsToTheJobsOrIsNamedWhole) {
  absl::StatusOr<v1::TrainConfig> shared = ParseStages("stages: \"generator\"");
  ASSERT_TRUE(shared.ok()) << shared.status();
  EXPECT_EQ(shared->generator().train_json(), "a");
  EXPECT_EQ(shared->generator().train_images(), "b");
  EXPECT_EQ(shared->generator().train_panoptic(), "c");
  absl::StatusOr<v1::TrainConfig> own = ParseStages(
      "stages: \"generator\" generator { train_json: \"g.json\" train_images: \"gi\" "
      "train_panoptic: \"gp\" }");
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(own->generator().train_json(), "g.json");
  EXPECT_EQ(own->generator().train_panoptic(), "gp");
  EXPECT_EQ(own->data().train_json(), "a");  // the fovseg stage keeps the job's data
  absl::StatusOr<v1::TrainConfig> partial =
      ParseStages("stages: \"generator\" generator { train_json: \"g.json\" }");
  ASSERT_FALSE(partial.ok());
  EXPECT_NE(partial.status().message().find("set all three or none"), std::string::npos)
      << partial.status();
}

TEST(ClipContrastiveLossTest, EqualsTheSymmetricCrossEntropyByHand) {
  // Two orthogonal pairs at logit scale 10: logits [[10, 0], [0, 10]] both ways.
  const torch::Tensor image = torch::tensor({{3.0f, 0.0f}, {0.0f, 0.5f}});
  const torch::Tensor text = torch::tensor({{1.0f, 0.0f}, {0.0f, 2.0f}});
  double accuracy = 0;
  const torch::Tensor loss =
      ClipContrastiveLoss(image, text, torch::tensor(std::log(10.0f)), &accuracy);
  EXPECT_NEAR(loss.item<double>(), std::log(1 + std::exp(-10.0)), 1e-6);
  EXPECT_EQ(accuracy, 1.0);
  // Swapped captions: every row's own pair scores lowest.
  ClipContrastiveLoss(image, text.flip({0}), torch::tensor(std::log(10.0f)), &accuracy);
  EXPECT_EQ(accuracy, 0.0);

  // One hard negative pointing where caption 0 does: image 0's row becomes [10, 0, 10],
  // image 1's [0, 10, 0]; captions -> images are unchanged.
  ClipHardNegatives negatives{torch::tensor({{5.0f, 0.0f}}), torch::zeros({2, 1}, torch::kBool)};
  double negative_accuracy = -1;
  const double e = std::exp(-10.0);
  const double cols = std::log(1 + e);
  const torch::Tensor hard = ClipContrastiveLoss(image, text, torch::tensor(std::log(10.0f)),
                                                 &accuracy, &negatives, &negative_accuracy);
  EXPECT_NEAR(hard.item<double>(), ((std::log(2 + e) + std::log(1 + 2 * e)) / 2 + cols) / 2, 1e-6);
  EXPECT_EQ(accuracy, 1.0) << "the in-batch accuracy ignores negatives";
  EXPECT_EQ(negative_accuracy, 0.5) << "image 0's caption only ties its negative";
  // The same words as image 0's own caption: excluded for it, and all is as without.
  negatives.excluded = torch::tensor({{true}, {false}});
  const torch::Tensor excluded = ClipContrastiveLoss(image, text, torch::tensor(std::log(10.0f)),
                                                     &accuracy, &negatives, &negative_accuracy);
  EXPECT_NEAR(excluded.item<double>(), ((cols + std::log(1 + 2 * e)) / 2 + cols) / 2, 1e-6);
  EXPECT_EQ(negative_accuracy, 1.0);
}

// Two images with the same caption are no wrong answers for each other: the loss is as if
// each pair were alone with the third, whatever the two images look like.
TEST(ClipContrastiveLossTest, SameCaptionsAreNotNegatives) {
  const torch::Tensor tokens = torch::tensor({{5, 7, 0}, {6, 0, 0}, {5, 7, 0}}, torch::kLong);
  const torch::Tensor same = SameCaption(tokens);
  EXPECT_TRUE(torch::equal(
      same, torch::tensor({{false, false, true}, {false, false, false}, {true, false, false}})));
  // Images 0 and 2 look alike and share a caption; 1 is orthogonal. Logits at scale 10:
  // rows 0 and 2 are [10, 0, 10] without the mask, [10, 0] with it.
  const torch::Tensor image = torch::tensor({{1.0f, 0.0f}, {0.0f, 1.0f}, {1.0f, 0.0f}});
  const torch::Tensor text = image.clone();
  double accuracy = 0;
  const torch::Tensor scale = torch::tensor(std::log(10.0f));
  const torch::Tensor masked =
      ClipContrastiveLoss(image, text, scale, &accuracy, nullptr, nullptr, same);
  const double e = std::exp(-10.0);
  EXPECT_NEAR(masked.item<double>(), (2 * std::log(1 + e) + std::log(1 + 2 * e)) / 3, 1e-6);
  EXPECT_EQ(accuracy, 1.0);
  const torch::Tensor unmasked = ClipContrastiveLoss(image, text, scale);
  EXPECT_GT(unmasked.item<double>(), masked.item<double>() + 0.4)
      << "the duplicate halves rows 0, 2";
}

ClipConfig PretrainTestConfig() {
  ClipConfig c;
  c.vision = {64, 2, 1, 16, 32};
  c.text = {64, 1, 1, 16, ClipTokenizer::kEndOfText + 1};
  c.embed_dim = 32;
  c.quick_gelu = false;
  return c;
}

TEST(ClipPretrainerTest, InitialisesLikeClipAndLearnsToMatchCaptions) {
  torch::manual_seed(3);
  ClipModel clip(PretrainTestConfig());
  InitializeClipForTraining(clip);
  const torch::Tensor in_proj = clip->visual->transformer->block(0)->attn->in_proj_weight;
  EXPECT_TRUE(torch::isfinite(in_proj).all().item<bool>());
  EXPECT_NEAR(in_proj.std().item<double>(), 1 / 8.0, 0.01);  // width^-0.5
  EXPECT_NEAR(clip->logit_scale.exp().item<double>(), 1 / 0.07, 1e-3);

  // Four images (flat colours) and four captions.
  const std::vector<std::string> captions = {"a red square", "a blue star", "green grass",
                                             "a white ring"};
  torch::Tensor images = torch::zeros({4, 3, 32, 32});
  torch::Tensor tokens = torch::zeros({4, 16}, torch::kLong);
  for (int64_t i = 0; i < 4; ++i) {
    images[i][i % 3].fill_(1.5);
    images[i].narrow(1, 0, 8 * (i + 1)).mul_(-1);
    const std::vector<int> ids = ClipTokenizer::Default().Tokenize(captions[i], 16);
    for (size_t t = 0; t < ids.size(); ++t) tokens[i][static_cast<int64_t>(t)] = ids[t];
  }
  ClipPretrainOptions options;
  options.lr = 2e-3;
  options.warmup_steps = 2;
  options.total_steps = 40;
  ClipPretrainer trainer(clip, options);
  double first = 0, last = 0, accuracy = 0;
  for (int step = 0; step < 40; ++step) {
    const ClipStepStats s = trainer.Step(images, tokens);
    ASSERT_TRUE(std::isfinite(s.loss));
    EXPECT_LE(s.logit_scale, 100.0 + 1e-3);
    if (step == 0) first = s.loss;
    last = s.loss;
    accuracy = s.accuracy;
  }
  EXPECT_LT(last, 0.3 * first) << "first " << first << " last " << last;
  EXPECT_EQ(accuracy, 1.0);
  EXPECT_EQ(trainer.step(), 40);
}

TEST(ClipPretrainerTest, TheTemperatureIsClampedAt100) {
  torch::manual_seed(4);
  ClipModel clip(PretrainTestConfig());
  InitializeClipForTraining(clip);
  {
    torch::NoGradGuard no_grad;
    clip->logit_scale.fill_(std::log(1000.0));
  }
  ClipPretrainer trainer(clip, ClipPretrainOptions{});
  const ClipStepStats s = trainer.Step(torch::randn({2, 3, 32, 32}),
                                       torch::tensor({{49406, 320, 49407}, {49406, 321, 49407}}));
  EXPECT_NEAR(s.logit_scale, 100.0, 1e-3);
}

// Targets at full size (Mask2Former's) and on the 1/4 grid both train; a target stride
// that does not match the masks' size would fail the padding.
class GeneratorTrainerTest : public ::testing::TestWithParam<int64_t> {};

TEST_P(GeneratorTrainerTest, ClassAgnosticTrainingLowersTheLoss) {
  const int64_t stride = GetParam();
  torch::manual_seed(5);
  Mask2Former model(Mask2FormerConfig::TinyResNet());
  GeneratorTrainOptions options;
  options.warmup_steps = 2;
  options.total_steps = 15;
  options.loss.num_points = 1024;
  options.target_stride = stride;
  GeneratorTrainer trainer(model, options, /*seed=*/7);
  const auto [images, targets] = testing::SyntheticShapes(2, 64);
  std::vector<torch::Tensor> masks;
  for (const SegmentTargets& t : targets) {
    // The trainer takes masks at 1/stride of the input.
    masks.push_back(t.masks
                        .index({torch::indexing::Slice(), torch::indexing::Slice(0, 64, stride),
                                torch::indexing::Slice(0, 64, stride)})
                        .to(torch::kBool));
  }
  // An image without segments.
  masks.push_back(torch::zeros({0, 64 / stride, 64 / stride}, torch::kBool));
  const torch::Tensor batch = torch::cat({images, torch::randn({1, 3, 64, 64}) * 0.2});
  double first = 0, last = 0;
  for (int step = 0; step < 15; ++step) {
    absl::StatusOr<GeneratorStepStats> s = trainer.Step(batch, masks);
    ASSERT_TRUE(s.ok()) << s.status();
    ASSERT_TRUE(std::isfinite(s->loss));
    if (step == 0) first = s->loss;
    last = s->loss;
  }
  EXPECT_LT(last, 0.7 * first) << "first " << first << " last " << last;
}

INSTANTIATE_TEST_SUITE_P(TargetStrides, GeneratorTrainerTest, ::testing::Values(1, 4));

TEST(AutocastScopeTest, Bf16InsideFp32OutsideAndWhereSuspended) {
  torch::nn::Linear linear(8, 4);
  const torch::Tensor x = torch::randn({2, 8});
  {
    AutocastScope autocast(torch::kCPU, /*enabled=*/true);
    EXPECT_EQ(linear(x).scalar_type(), torch::kBFloat16);
    {
      AutocastSuspend suspended(torch::kCPU);
      EXPECT_EQ(linear(x).scalar_type(), torch::kFloat32);
    }
    EXPECT_EQ(linear(x).scalar_type(), torch::kBFloat16);
  }
  EXPECT_EQ(linear(x).scalar_type(), torch::kFloat32);
  {
    AutocastScope off(torch::kCPU, /*enabled=*/false);
    EXPECT_EQ(linear(x).scalar_type(), torch::kFloat32);
  }
  EXPECT_EQ(linear->weight.scalar_type(), torch::kFloat32);
}

}  // namespace
}  // namespace ovseg
