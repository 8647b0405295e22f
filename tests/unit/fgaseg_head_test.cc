// The FGAseg head against the official FGAseg modules with the same random weights
// (scripts/testdata/make_fgaseg_reference.py), and its serving behaviour: Top-K leaves the
// kept classes' logits unchanged, batches equal single requests, gradients reach every
// trainable parameter, the T2P branch stays out of serving, any vocabulary size.
#include "model/fgaseg/fgaseg_head.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "model/clip/clip_weights.h"
#include "model/fgaseg/clip_dense_features.h"
#include "model/fgaseg/fgaseg_loss.h"
#include "model/weights/safetensors_file.h"
#include "tests/fakes/tensor_compare.h"
#include "tests/fakes/tiny_fgaseg_config.h"

namespace ovseg {
namespace {

std::string DataPath(const std::string& name) {
  const char* root = std::getenv("OVSEG_SOURCE_DIR");
  return std::string(root ? root : ".") + "/tests/data/fgaseg_tiny/" + name;
}

using testing::TinyFgaSegConfig;

// Loads the official-named weights; every tensor must find its place and vice versa.
FgaSegHead LoadTiny() {
  FgaSegHead head(TinyFgaSegConfig());
  auto file = SafetensorsFile::Open(DataPath("weights.safetensors"));
  EXPECT_TRUE(file.ok()) << file.status();
  std::map<std::string, torch::Tensor> targets;
  for (auto& p : head->named_parameters()) targets[p.key()] = p.value();
  for (auto& b : head->named_buffers()) targets[b.key()] = b.value();
  std::set<std::string> stored;
  torch::NoGradGuard no_grad;
  for (const std::string& name : (*file)->Names()) {
    // The official code stores its shifted-window masks; here they follow the map's size.
    if (name.size() > 9 && name.substr(name.size() - 9) == "attn_mask") continue;
    stored.insert(name);
    auto it = targets.find(name);
    if (it == targets.end()) {
      ADD_FAILURE() << "unexpected " << name;
      continue;
    }
    const torch::Tensor t = *(*file)->Get(name);
    EXPECT_EQ(t.sizes(), it->second.sizes()) << name;
    if (t.sizes() == it->second.sizes()) it->second.copy_(t);
  }
  for (const auto& [name, t] : targets) EXPECT_TRUE(stored.count(name)) << "missing " << name;
  return head;
}

torch::Tensor Get(const SafetensorsFile& f, const std::string& name) {
  absl::StatusOr<torch::Tensor> t = f.Get(name);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : torch::Tensor();
}

using testing::RelativeDiff;

FgaSegInputs CaseInputs(const SafetensorsFile& v, const std::string& name) {
  FgaSegInputs in;
  in.dense = Get(v, name + ".dense");
  in.guidance = {Get(v, name + ".guidance_0"), Get(v, name + ".guidance_1")};
  const torch::Tensor classes = Get(v, name + ".classes");
  in.classes = classes.unsqueeze(0).expand({2, -1, -1}).contiguous();
  in.class_valid = torch::ones({2, classes.size(0)}, torch::kBool);
  return in;
}

class FgaSegReferenceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FgaSegReferenceTest, TrainingOutputsMatchTheOfficialModules) {
  FgaSegHead head = LoadTiny();
  head->train();  // The T2P branch's batch norm uses batch statistics, as the reference ran.
  auto vectors = SafetensorsFile::Open(DataPath("vectors.safetensors"));
  ASSERT_TRUE(vectors.ok());
  const std::string c = GetParam();
  torch::NoGradGuard no_grad;
  const FgaSegOutputs out = head->forward(CaseInputs(**vectors, c), /*training_outputs=*/true);
  EXPECT_LE(RelativeDiff(out.logits, Get(**vectors, c + ".logits")), 1e-4);
  EXPECT_LE(RelativeDiff(out.alignment, Get(**vectors, c + ".alignment")), 1e-4);
  if (c == "few") {  // With classes cut, the reference's auxiliary maps are in its own order.
    EXPECT_LE(RelativeDiff(out.aux0, Get(**vectors, c + ".aux0")), 1e-4);
    EXPECT_LE(RelativeDiff(out.aux1, Get(**vectors, c + ".aux1")), 1e-4);
    EXPECT_LE(RelativeDiff(out.aux2, Get(**vectors, c + ".aux2")), 1e-4);
  } else {
    EXPECT_EQ((out.logits == kFgaSegSkippedLogit).all(-1).all(-1).sum().item<int64_t>(), 2 * 4);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, FgaSegReferenceTest, ::testing::Values("few", "many"));

FgaSegInputs RandomInputs(const FgaSegConfig& c, int64_t b, int64_t t, int64_t grid) {
  FgaSegInputs in;
  in.dense = torch::randn({b, c.embed_dim, grid, grid});
  in.guidance = {torch::randn({b, c.clip_width, grid, grid}),
                 torch::randn({b, c.clip_width, grid, grid})};
  in.classes = torch::nn::functional::normalize(
      torch::randn({b, t, c.embed_dim}), torch::nn::functional::NormalizeFuncOptions().dim(-1));
  in.class_valid = torch::ones({b, t}, torch::kBool);
  return in;
}

TEST(FgaSegHeadTest, TopKKeepsTheKeptClassesExactly) {
  // 60 classes on a 4x4 grid: top-1 of 16 pixels keeps at most 16 per image.
  FgaSegConfig fast_config = TinyFgaSegConfig(), all_config = TinyFgaSegConfig();
  fast_config.pad_len = all_config.pad_len = 0;
  fast_config.top_k = 1;
  all_config.top_k = 0;
  torch::manual_seed(3);
  FgaSegHead fast(fast_config), every(all_config);
  fast->eval();
  every->eval();
  torch::NoGradGuard no_grad;
  auto src = fast->named_parameters();
  for (auto& p : every->named_parameters()) p.value().copy_(src[p.key()]);
  auto src_buffers = fast->named_buffers();
  for (auto& b : every->named_buffers()) b.value().copy_(src_buffers[b.key()]);
  const FgaSegInputs in = RandomInputs(fast_config, 2, 60, 4);
  const FgaSegOutputs full = every->forward(in);
  EXPECT_TRUE(full.kept.all().item<bool>());
  const FgaSegOutputs selected = fast->forward(in);
  const int64_t kept = selected.kept.sum().item<int64_t>();
  EXPECT_GE(kept, 2);   // at least one class per image
  EXPECT_LE(kept, 32);  // at most one per pixel of the 4x4 auxiliary map, per image
  for (int64_t i = 0; i < 2; ++i) {
    for (int64_t t = 0; t < 60; ++t) {
      if (selected.kept[i][t].item<bool>()) {
        EXPECT_TRUE(torch::allclose(selected.logits[i][t], full.logits[i][t], 1e-5, 1e-5))
            << i << " " << t;
      } else {
        EXPECT_TRUE((selected.logits[i][t] == kFgaSegSkippedLogit).all().item<bool>());
      }
    }
  }
}

TEST(FgaSegHeadTest, MixedVocabulariesInABatchEqualSingleRequests) {
  FgaSegHead head = LoadTiny();
  head->eval();
  torch::manual_seed(4);
  torch::NoGradGuard no_grad;
  const FgaSegInputs a = RandomInputs(TinyFgaSegConfig(), 1, 3, 8),
                     b = RandomInputs(TinyFgaSegConfig(), 1, 6, 8);
  FgaSegInputs batch;
  batch.dense = torch::cat({a.dense, b.dense});
  batch.guidance = {torch::cat({a.guidance[0], b.guidance[0]}),
                    torch::cat({a.guidance[1], b.guidance[1]})};
  batch.classes = torch::zeros({2, 6, 32});
  batch.classes[0].narrow(0, 0, 3).copy_(a.classes[0]);
  batch.classes[1].copy_(b.classes[0]);
  batch.class_valid = torch::zeros({2, 6}, torch::kBool);
  batch.class_valid[0].narrow(0, 0, 3).fill_(true);
  batch.class_valid[1].fill_(true);
  const FgaSegOutputs together = head->forward(batch);
  const FgaSegOutputs alone_a = head->forward(a), alone_b = head->forward(b);
  EXPECT_TRUE(torch::allclose(together.logits[0].narrow(0, 0, 3), alone_a.logits[0], 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(together.logits[1], alone_b.logits[0], 1e-4, 1e-4));
  EXPECT_FALSE(together.kept[0].narrow(0, 3, 3).any().item<bool>());  // padding never kept
  // Training outputs (and serving without Top-K) on a padded batch: every map keeps the
  // [B, T, ...] layout, padding rows read -100, real rows equal the single request's.
  const FgaSegOutputs trained = head->forward(batch, /*training_outputs=*/true);
  const FgaSegOutputs trained_a = head->forward(a, /*training_outputs=*/true);
  ASSERT_EQ(trained.aux2.sizes(), (std::vector<int64_t>{2, 6, 2 * 8, 2 * 8}));
  EXPECT_TRUE(torch::allclose(trained.aux2[0].narrow(0, 0, 3), trained_a.aux2[0], 1e-4, 1e-4));
  EXPECT_TRUE((trained.aux2[0].narrow(0, 3, 3) == kFgaSegSkippedLogit).all().item<bool>());
  EXPECT_TRUE(torch::allclose(trained.logits[0].narrow(0, 0, 3), trained_a.logits[0], 1e-4, 1e-4));
}

TEST(FgaSegHeadTest, GradientsReachEveryParameterAndT2PStaysOutOfServing) {
  torch::manual_seed(5);
  FgaSegHead head(TinyFgaSegConfig());
  head->train();
  const FgaSegInputs in = RandomInputs(TinyFgaSegConfig(), 2, 5, 8);
  const FgaSegOutputs out = head->forward(in, /*training_outputs=*/true);
  (out.logits.sum() + out.aux0.sum() + out.aux1.sum() + out.aux2.sum() + out.alignment.sum())
      .backward();
  for (const auto& p : head->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
  // Serving: no alignment map, and nothing of the T2P branch takes part.
  head->zero_grad();
  for (torch::Tensor& p : head->parameters()) p.mutable_grad() = torch::Tensor();
  head->eval();
  const FgaSegOutputs served = head->forward(in);
  EXPECT_FALSE(served.alignment.defined());
  EXPECT_FALSE(served.aux0.defined());
  served.logits.sum().backward();
  for (const torch::Tensor& p : head->TrainingOnlyParameters()) EXPECT_FALSE(p.grad().defined());
}

TEST(FgaSegHeadTest, AnyVocabularySizeWithTheDefaultConfig) {
  torch::manual_seed(6);
  FgaSegConfig config;  // ViT-B/16 sizes, pad_len 256
  FgaSegHead head(config);
  head->eval();
  torch::NoGradGuard no_grad;
  for (int64_t classes : {1, 150, 847}) {
    const FgaSegInputs in = RandomInputs(config, 1, classes, 12);
    const FgaSegOutputs out = head->forward(in);
    EXPECT_EQ(out.logits.sizes(), (std::vector<int64_t>{1, classes, 48, 48}));
    EXPECT_EQ(out.kept.sizes(), (std::vector<int64_t>{1, classes}));
    EXPECT_GE(out.kept.sum().item<int64_t>(), 1);
    EXPECT_FALSE(torch::isnan(out.logits).any().item<bool>());
  }
  // bf16 on CPU.
  head->to(torch::kBFloat16);
  FgaSegInputs in = RandomInputs(config, 1, 20, 12);
  in.dense = in.dense.to(torch::kBFloat16);
  for (auto& g : in.guidance) g = g.to(torch::kBFloat16);
  in.classes = in.classes.to(torch::kBFloat16);
  EXPECT_EQ(head->forward(in).logits.scalar_type(), torch::kBFloat16);
}

TEST(FgaSegConfigTest, GuidanceLayersFollowTheClipDepth) {
  EXPECT_EQ(FgaSegConfigForClip(12, 768, 512).guidance_layers, (std::vector<int64_t>{3, 7}));
  const FgaSegConfig large = FgaSegConfigForClip(24, 1024, 768);
  EXPECT_EQ(large.guidance_layers, (std::vector<int64_t>{7, 15}));
  EXPECT_EQ(large.clip_width, 1024);
  EXPECT_EQ(large.embed_dim, 768);
  EXPECT_EQ(FgaSegConfigForClip(6, 64, 32).guidance_layers, (std::vector<int64_t>{2, 4}));
  // Guidance never reaches the last block (the dense path) even on tiny towers.
  EXPECT_EQ(FgaSegConfigForClip(2, 64, 32).guidance_layers, (std::vector<int64_t>{0, 0}));
}

TEST(FgaSegConfigTest, PublicClipsGetTheOfficialHeadSmallOnesASmallHead) {
  const FgaSegConfig base = FgaSegConfigForClip(12, 768, 512);
  EXPECT_EQ(base.hidden_dim, 128);
  EXPECT_EQ(base.pad_len, 256);
  EXPECT_EQ(base.layers, 2);
  const FgaSegConfig small = FgaSegConfigForClip(6, 128, 128);
  EXPECT_EQ(small.hidden_dim, 32);
  EXPECT_EQ(small.pad_len, 0);  // a 50-class vocabulary is not padded to 256
  EXPECT_EQ(small.layers, 1);
  EXPECT_EQ(small.clip_width, 128);
  EXPECT_EQ(small.embed_dim, 128);
}

TEST(ClipDenseFeaturesTest, MatchTheOfficialValuePath) {
  const char* root = std::getenv("OVSEG_SOURCE_DIR");
  ClipLoadOptions options;
  options.quick_gelu = true;
  absl::StatusOr<ClipModel> clip = LoadClipModel(
      std::string(root ? root : ".") + "/tests/data/clip_tiny/openai.safetensors", options);
  ASSERT_TRUE(clip.ok()) << clip.status();
  auto vectors = SafetensorsFile::Open(DataPath("clip_dense.safetensors"));
  ASSERT_TRUE(vectors.ok()) << vectors.status();
  torch::NoGradGuard no_grad;
  const ClipDenseFeatures f =
      ComputeClipDenseFeatures((*clip)->visual, Get(**vectors, "images"), {0});
  EXPECT_LE(RelativeDiff(f.dense, Get(**vectors, "dense")), 1e-5);
  ASSERT_EQ(f.guidance.size(), 1u);
  EXPECT_LE(RelativeDiff(f.guidance[0], Get(**vectors, "guidance_0")), 1e-5);
  // The last block cannot guide: it is the dense path itself.
  EXPECT_THROW(ComputeClipDenseFeatures((*clip)->visual, Get(**vectors, "images"), {1}),
               c10::Error);
}

TEST(FgaSegLossTest, CrossEntropyByHandIgnoringPixelsAndPaddingClasses) {
  // One image, 3 classes of which the last is batch padding, 1x2 pixels.
  torch::Tensor logits = torch::tensor({{{{2.0f, 0.0f}}, {{1.0f, 3.0f}}, {{50.0f, 50.0f}}}});
  const torch::Tensor valid = torch::tensor({{true, true, false}});
  const torch::Tensor labels = torch::tensor({{{0, 255}}}, torch::kLong);
  const double expected = -std::log(std::exp(2.0) / (std::exp(2.0) + std::exp(1.0)));
  EXPECT_NEAR(DenseCrossEntropy(logits, labels, valid, 255).item<double>(), expected, 1e-5);
}

TEST(FgaSegLossTest, WeightsTermsAndTrainsTheHead) {
  torch::manual_seed(7);
  FgaSegHead head(TinyFgaSegConfig());
  head->train();
  const FgaSegInputs in = RandomInputs(TinyFgaSegConfig(), 2, 4, 8);
  torch::Tensor labels = torch::randint(0, 4, {2, 32, 32}, torch::kLong);
  labels.narrow(1, 0, 4).fill_(255);
  torch::optim::AdamW optimiser(head->parameters(), torch::optim::AdamWOptions(1e-3));
  double first = 0, last = 0;
  for (int step = 0; step < 15; ++step) {
    optimiser.zero_grad();
    const FgaSegLosses l = ComputeFgaSegLoss(head->forward(in, true), labels, in.class_valid, {});
    EXPECT_NEAR(l.total.item<double>(),
                l.ce.item<double>() + 0.02 * l.align.item<double>() + 0.2 * l.aux.item<double>(),
                1e-4);
    l.total.backward();
    optimiser.step();
    (step == 0 ? first : last) = l.total.item<double>();
  }
  EXPECT_LT(last, first);
}

}  // namespace
}  // namespace ovseg
