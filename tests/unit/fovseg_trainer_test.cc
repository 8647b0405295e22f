// The fovseg training step on generated data: the loss falls, CLIP stays bit-identical,
// the FiSeR Predictor never reaches a checkpoint, accumulation applies every N calls, the
// schedule warms up then decays, and a resumed trainer continues exactly.
#include "model/train/fovseg_trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "model/serving/fgaseg_checkpoint.h"
#include "model/train/class_sampling.h"
#include "tests/fakes/tiny_fgaseg_config.h"

namespace ovseg {
namespace {

namespace F = torch::nn::functional;

ClipModel TrainerClip() {
  torch::manual_seed(11);
  ClipConfig c;
  c.vision = {24, 3, 2, 16, 64};
  c.text = {32, 1, 1, 16, 512};
  c.embed_dim = 32;
  return ClipModel(c);
}

FgaSegConfig TrainerHeadConfig() {
  FgaSegConfig c = testing::TinyFgaSegConfig();
  c.guidance_layers = {0, 1};
  return c;
}

// Two segments (left / right halves, classes 0 and 2 of 3); the proposals are those two
// masks plus one across the middle.
std::vector<TrainImage> Batch(int64_t b, uint64_t seed) {
  torch::manual_seed(seed);
  std::vector<TrainImage> out;
  const torch::Tensor vocabulary =
      F::normalize(torch::randn({3, 32}), F::NormalizeFuncOptions().dim(-1));
  for (int64_t i = 0; i < b; ++i) {
    TrainImage im;
    torch::Tensor left = torch::zeros({16, 16}, torch::kBool), right = left.clone();
    left.narrow(1, 0, 8).fill_(true);
    right.narrow(1, 8, 8).fill_(true);
    torch::Tensor middle = torch::zeros({16, 16}, torch::kBool);
    middle.narrow(1, 4, 8).fill_(true);
    im.pixels = torch::randn({3, 64, 64}) * 0.3;
    im.pixels.narrow(2, 0, 32) += 1.0;  // the left half looks different
    im.segment_masks = torch::stack({left, right});
    im.segment_classes = {0, 2};
    im.proposal_logits = torch::stack({left, right, middle}).to(torch::kFloat32) * 20 - 10;
    im.class_embeddings = vocabulary;
    im.semantic_labels = torch::full({64, 64}, 2, torch::kLong);
    im.semantic_labels.narrow(1, 0, 32).fill_(0);
    out.push_back(im);
  }
  return out;
}

FovSegTrainerOptions Fast() {
  FovSegTrainerOptions o;
  o.lr = 2e-3;
  o.warmup_steps = 2;
  o.total_steps = 40;
  o.fiser.width = 32;
  o.fiser.heads = 4;
  o.fiser.layers = 1;
  return o;
}

TEST(FovSegTrainerTest, LossFallsAndFrozenPartsStayFrozen) {
  ClipModel clip = TrainerClip();
  MaskClassifier classifier(clip->visual, 32, MaskClassifierConfig{});
  std::vector<torch::Tensor> frozen_before;
  for (const torch::Tensor& p : clip->visual->parameters()) frozen_before.push_back(p.clone());
  FovSegTrainer trainer(classifier, FgaSegHead(TrainerHeadConfig()), Fast());
  double first = 0, last = 0;
  for (int step = 0; step < 40; ++step) {
    const TrainStepStats s = trainer.Step(Batch(2, 100 + step));
    ASSERT_TRUE(std::isfinite(s.loss));
    EXPECT_TRUE(s.applied);
    EXPECT_GT(s.fiser, 0.0);
    EXPECT_GT(s.dense, 0.0);
    if (step < 5) first += s.loss / 5;
    if (step >= 35) last += s.loss / 5;
  }
  EXPECT_LT(last, 0.7 * first) << "first " << first << ", last " << last;
  size_t i = 0;
  for (const torch::Tensor& p : clip->visual->parameters()) {
    EXPECT_TRUE(torch::equal(p, frozen_before[i++])) << "a frozen CLIP tensor moved";
  }
  // f_q (the classifier's own copy) did move.
  EXPECT_FALSE(
      torch::equal(classifier->fq_weight[0],
                   clip->visual->transformer->block(0)->attn->in_proj_weight.narrow(0, 0, 24)));
}

// FOV-Seg's FiSeR trains CLIP's f_q through P, the image features the Predictor reads:
// the classifier's image tokens run its tuned f_q, so FiSeR alone (no L_CE, no dense head)
// must move f_q. Without FiSeR and L_CE nothing that reaches f_q is left.
TEST(FovSegTrainerTest, FiserAloneReachesTheQueryProjectionsThroughTheImageFeatures) {
  for (const bool fiser : {true, false}) {
    ClipModel clip = TrainerClip();
    MaskClassifier classifier(clip->visual, 32, MaskClassifierConfig{});
    FovSegTrainerOptions o = Fast();
    o.ce_weight = 0;
    o.weight_decay = 0;  // decay alone would move f_q
    o.use_fiser = fiser;
    FovSegTrainer trainer(classifier, std::nullopt, o);
    const torch::Tensor before = classifier->fq_weight[0].detach().clone();
    trainer.Step(Batch(2, 5));
    trainer.Step(Batch(2, 6));
    EXPECT_EQ(torch::equal(classifier->fq_weight[0], before), !fiser)
        << (fiser ? "FiSeR left f_q untouched" : "f_q moved without a loss reaching it");
  }
}

TEST(FovSegTrainerTest, ThePredictorNeverReachesACheckpoint) {
  ClipModel clip = TrainerClip();
  MaskClassifier classifier(clip->visual, 32, MaskClassifierConfig{});
  FgaSegHead head(TrainerHeadConfig());
  FovSegTrainer trainer(classifier, head, Fast());
  trainer.Step(Batch(1, 1));
  const std::string path = ::testing::TempDir() + "/trained.safetensors";
  CheckpointMetadata m;
  m.preset = "fovseg-tiny";
  m.clip_sha256 = std::string(64, '0');
  ASSERT_TRUE(WriteCheckpointWithFgaSeg(path, classifier, head, m).ok());
  absl::StatusOr<Checkpoint> ckpt = OpenCheckpoint(path);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  // Exactly the classifier's and the head's serving tensors: nothing of the Predictor.
  std::set<std::string> expected;
  for (const auto& [name, t] : ClassifierCheckpointTensors(classifier)) expected.insert(name);
  for (const auto& [name, t] : FgaSegCheckpointTensors(head)) expected.insert(name);
  const std::vector<std::string> names = ckpt->file->Names();
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()), expected);
  for (const std::string& name : names) {
    EXPECT_EQ(name.find("mask_token"), std::string::npos) << name;
    EXPECT_EQ(name.find("logit_scale"), std::string::npos) << name;
  }
}

TEST(FovSegTrainerTest, AccumulationScheduleAndExactResume) {
  ClipModel clip = TrainerClip();
  FovSegTrainerOptions o = Fast();
  o.grad_accumulation = 2;
  o.use_fiser = true;
  FovSegTrainer trainer(MaskClassifier(clip->visual, 32, MaskClassifierConfig{}), std::nullopt, o);
  EXPECT_FALSE(trainer.Step(Batch(1, 1)).applied);
  EXPECT_TRUE(trainer.Step(Batch(1, 2)).applied);
  EXPECT_EQ(trainer.step(), 1);
  // Warm-up then poly decay to 0.
  EXPECT_NEAR(trainer.LearningRate(0), o.lr / 2, 1e-12);
  EXPECT_NEAR(trainer.LearningRate(1), o.lr, 1e-12);
  EXPECT_GT(trainer.LearningRate(20), 0.0);
  EXPECT_LT(trainer.LearningRate(20), o.lr);
  EXPECT_NEAR(trainer.LearningRate(40), 0.0, 1e-12);

  // Resume: a trainer restored from the state (and the classifier's tensors) continues
  // exactly as the original does.
  const std::string state = ::testing::TempDir() + "/trainer.state";
  ASSERT_TRUE(trainer.SaveState(state).ok());
  MaskClassifier copy(clip->visual, 32, MaskClassifierConfig{});
  {
    torch::NoGradGuard no_grad;
    auto from = trainer.classifier()->named_parameters();
    for (auto& p : copy->named_parameters()) p.value().copy_(from[p.key()]);
  }
  FovSegTrainer resumed(copy, std::nullopt, o);
  ASSERT_TRUE(resumed.LoadState(state).ok());
  EXPECT_EQ(resumed.step(), 1);
  for (int k = 0; k < 2; ++k) {
    torch::manual_seed(50 + k);
    trainer.Step(Batch(1, 3 + k));
    torch::manual_seed(50 + k);
    resumed.Step(Batch(1, 3 + k));
  }
  auto a = trainer.classifier()->named_parameters();
  for (const auto& p : resumed.classifier()->named_parameters()) {
    EXPECT_TRUE(torch::allclose(p.value(), a[p.key()], 1e-6, 1e-7)) << p.key();
  }
  EXPECT_FALSE(resumed.LoadState(::testing::TempDir() + "/absent.state").ok());
}

}  // namespace
}  // namespace ovseg

namespace ovseg {
namespace {

TEST(ClassSamplingTest, ImagesBringTheirClassesPlusSampledNegatives) {
  // Disabled: the whole vocabulary, whatever the image shows.
  std::vector<int64_t> all = SampleImageClasses({3, 1}, 6, ClassSampling{}, 7);
  EXPECT_EQ(all, (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  const ClassSampling sampling{4, 8};
  std::set<size_t> sizes;
  std::set<int64_t> negatives_seen;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const std::vector<int64_t> s = SampleImageClasses({9, 2, 9}, 100, sampling, seed);
    EXPECT_TRUE(std::is_sorted(s.begin(), s.end()));
    EXPECT_EQ(std::set<int64_t>(s.begin(), s.end()).size(), s.size()) << "no duplicates";
    EXPECT_TRUE(std::binary_search(s.begin(), s.end(), 2));  // the image's classes stay
    EXPECT_TRUE(std::binary_search(s.begin(), s.end(), 9));
    EXPECT_GE(s.size(), 4u);
    EXPECT_LE(s.size(), 8u);
    sizes.insert(s.size());
    for (int64_t c : s) negatives_seen.insert(c);
    EXPECT_EQ(s, SampleImageClasses({2, 9}, 100, sampling, seed)) << "deterministic";
  }
  EXPECT_EQ(sizes, (std::set<size_t>{4, 5, 6, 7, 8}));  // every size in [min, max] occurs
  EXPECT_GT(negatives_seen.size(), 60u);                // negatives range over the vocabulary
  // More classes shown than max: all of them, no negatives.
  EXPECT_EQ(SampleImageClasses({0, 1, 2, 3, 4}, 100, ClassSampling{1, 3}, 1).size(), 5u);
  // A vocabulary smaller than the draw: everything.
  EXPECT_EQ(SampleImageClasses({0}, 3, ClassSampling{5, 5}, 1).size(), 3u);
}

}  // namespace
}  // namespace ovseg
