// The TeVA mask classifier on a tiny random CLIP: MaskCLIP semantics (support, image tokens
// untouched), TeVA's identity at initialisation, batching with padding, trainable groups.
#include "model/teva/mask_classifier.h"

#include <gtest/gtest.h>

#include <cmath>

#include "model/teva/teva_target_cache.h"

namespace ovseg {
namespace {

ClipConfig TinyConfig() {
  ClipConfig c;
  c.vision = {64, 2, 1, 8, 32};
  c.text = {64, 1, 1, 16, 512};
  c.embed_dim = 32;
  c.quick_gelu = true;
  return c;
}

struct Fixture {
  ClipModel clip{nullptr};
  MaskClassifier classifier{nullptr};
};

Fixture Make(MaskClassifierConfig config = {}) {
  torch::manual_seed(11);
  Fixture f;
  f.clip = ClipModel(TinyConfig());
  f.clip->eval();
  {
    torch::NoGradGuard no_grad;  // Layer norms away from 1/0 so that they matter.
    for (auto& p : f.clip->parameters()) {
      if (p.dim() == 1) p.add_(0.1 * torch::randn_like(p));
    }
  }
  f.classifier = MaskClassifier(f.clip->visual, 32, config);
  f.classifier->ResetQueryProjections();
  return f;
}

torch::Tensor Images(int64_t b) { return torch::randn({b, 3, 32, 32}); }

MaskClassifierInput Input(const torch::Tensor& images, const torch::Tensor& masks,
                          const torch::Tensor& classes) {
  MaskClassifierInput in;
  in.images = images;
  in.mask_logits = masks;
  in.proposal_valid = torch::ones({masks.size(0), masks.size(1)}, torch::kBool);
  in.class_embeddings = classes;
  in.class_valid = torch::ones({classes.size(0), classes.size(1)}, torch::kBool);
  return in;
}

torch::Tensor RandomMasks(int64_t b, int64_t n, int64_t side = 32) {
  return torch::randn({b, n, side, side}) * 3;
}

torch::Tensor Classes(int64_t b, int64_t t) {
  return torch::nn::functional::normalize(torch::randn({b, t, 32}),
                                          torch::nn::functional::NormalizeFuncOptions().dim(-1));
}

// MaskCLIP written out independently: explicit per-mask softmax over the visible tokens,
// image tokens from CLIP's own forward.
torch::Tensor ReferenceMaskEmbeddings(ClipModel& clip, const torch::Tensor& images,
                                      const torch::Tensor& masks) {
  ClipVision v = clip->visual;
  int64_t gh, gw;
  const torch::Tensor x0 = v->Embed(images, &gh, &gw);
  std::vector<int64_t> all;
  for (int64_t i = 0; i < v->transformer->size(); ++i) all.push_back(i);
  const ClipVisionOutput full = v->forward(images, all);
  const torch::Tensor visible = MaskAttentionSupport(masks, gh, gw);  // [B, N, L]
  const int64_t b = masks.size(0), n = masks.size(1), c = x0.size(2);
  torch::Tensor m = x0.narrow(1, 0, 1).expand({b, n, c}).clone();
  for (int64_t i = 0; i < v->transformer->size(); ++i) {
    ClipResidualBlock block = v->transformer->block(i);
    const torch::Tensor x = i == 0 ? x0 : full.layers[i - 1];
    const torch::Tensor& w = block->attn->in_proj_weight;
    const torch::Tensor& bias = block->attn->in_proj_bias;
    const torch::Tensor xl = block->ln_1(x), ml = block->ln_1(m);
    const torch::Tensor q = torch::matmul(ml, w.narrow(0, 0, c).t()) + bias.narrow(0, 0, c);
    const torch::Tensor k = torch::matmul(xl, w.narrow(0, c, c).t()) + bias.narrow(0, c, c);
    const torch::Tensor val =
        torch::matmul(xl, w.narrow(0, 2 * c, c).t()) + bias.narrow(0, 2 * c, c);
    torch::Tensor scores = torch::matmul(q, k.transpose(1, 2)) / std::sqrt(double(c));  // 1 head
    scores = scores.masked_fill(~visible, -INFINITY);
    const torch::Tensor attended = torch::matmul(torch::softmax(scores, -1), val);
    m = m + block->attn->out_proj(attended);
    m = m + block->mlp(block->ln_2(m));
  }
  return torch::nn::functional::normalize(torch::matmul(v->ln_post(m), v->proj),
                                          torch::nn::functional::NormalizeFuncOptions().dim(-1));
}

TEST(MaskClassifierTest, AttentionSupportAdmitsExactlyTheCoveredPatches) {
  // One 16x16 mask over a 4x4 grid (4x4 pixels per patch).
  torch::Tensor masks = torch::full({1, 3, 16, 16}, -1.0f);
  masks[0][0][5][9] = 1.0f;  // One pixel: patch (1, 2).
  masks[0][1].index_put_({torch::indexing::Slice(0, 8), torch::indexing::Slice(0, 8)},
                         2.0f);  // Patches (0..1, 0..1).
  // Mask 2 stays empty.
  const torch::Tensor s = MaskAttentionSupport(masks, 4, 4);
  ASSERT_EQ(s.sizes(), (std::vector<int64_t>{1, 3, 17}));
  auto expect = [&](int mask, std::vector<int> patches) {
    std::vector<bool> want(17, false);
    want[0] = true;  // Class token always.
    for (int p : patches) want[1 + p] = true;
    for (int j = 0; j < 17; ++j) EXPECT_EQ(s[0][mask][j].item<bool>(), want[j]) << mask << "," << j;
  };
  expect(0, {1 * 4 + 2});
  expect(1, {0, 1, 4, 5});
  expect(2, {});
}

TEST(MaskClassifierTest, PlainClassifierMatchesIndependentMaskClip) {
  MaskClassifierConfig config;
  config.use_teva = false;
  config.use_adapter = false;
  Fixture f = Make(config);
  torch::NoGradGuard no_grad;
  const torch::Tensor images = Images(2), masks = RandomMasks(2, 5), classes = Classes(2, 7);
  MaskClassifierInput in = Input(images, masks, classes);
  in.dense_layers = {0, 1};
  const MaskClassifierOutput out = f.classifier->forward(in);
  EXPECT_LE((out.mask_embeddings - ReferenceMaskEmbeddings(f.clip, images, masks))
                .abs()
                .max()
                .item<double>(),
            1e-5);
  // Image tokens are CLIP's own: mask tokens never reach them.
  const ClipVisionOutput clip = f.clip->visual->forward(images, {0, 1});
  for (int k = 0; k < 2; ++k) {
    EXPECT_LE((out.dense_features[k] - clip.layers[k]).abs().max().item<double>(), 1e-5);
  }
  // Logits: cosine x 100 against the classes, void last.
  const torch::Tensor expected =
      torch::matmul(out.mask_embeddings, classes.transpose(1, 2)) * 100.0;
  EXPECT_LE((out.class_logits.narrow(2, 0, 7) - expected).abs().max().item<double>(), 1e-4);
  EXPECT_EQ(out.class_logits.size(2), 8);
}

TEST(MaskClassifierTest, UntrainedTevaEqualsThePlainClassifierExactly) {
  MaskClassifierConfig with;
  MaskClassifierConfig without;
  without.use_teva = false;
  Fixture a = Make(with), b = Make(without);
  torch::NoGradGuard no_grad;
  const torch::Tensor images = Images(2), masks = RandomMasks(2, 4), classes = Classes(2, 6);
  const torch::Tensor la = a.classifier->forward(Input(images, masks, classes)).class_logits;
  const torch::Tensor lb = b.classifier->forward(Input(images, masks, classes)).class_logits;
  EXPECT_TRUE(torch::equal(la, lb));
  // The adapter starts at ~nothing: within 1e-3 of no adapter at all.
  MaskClassifierConfig no_adapter = without;
  no_adapter.use_adapter = false;
  Fixture c = Make(no_adapter);
  const torch::Tensor lc = c.classifier->forward(Input(images, masks, classes)).class_logits;
  EXPECT_LE((la - lc).abs().max().item<double>(), 1e-3);
  // The literal-equation variant differs (its input is the cross-attention alone).
  MaskClassifierConfig literal;
  literal.teva_residual = false;
  Fixture d = Make(literal);
  const torch::Tensor ld = d.classifier->forward(Input(images, masks, classes)).class_logits;
  EXPECT_GT((la - ld).abs().max().item<double>(), 1e-3);
}

TEST(MaskClassifierTest, BatchedVocabulariesOf3_150_847MatchRunningAlone) {
  Fixture f = Make();
  {
    torch::NoGradGuard no_grad;  // A trained-looking TeVA, so text guidance matters.
    auto groups = f.classifier->ParameterGroups();
    for (auto& p : groups["teva"]) p.normal_(0, 0.05);
  }
  torch::NoGradGuard no_grad;
  const std::vector<int64_t> sizes = {3, 150, 847};
  const std::vector<int64_t> proposals = {5, 2, 7};
  std::vector<torch::Tensor> images, masks, classes;
  for (size_t r = 0; r < 3; ++r) {
    images.push_back(Images(1));
    masks.push_back(RandomMasks(1, proposals[r]));
    classes.push_back(Classes(1, sizes[r]));
  }
  // Batched: classes padded to 847, proposals padded to 7.
  MaskClassifierInput batch;
  batch.images = torch::cat(images, 0);
  batch.mask_logits = torch::full({3, 7, 32, 32}, -5.0f);
  batch.proposal_valid = torch::zeros({3, 7}, torch::kBool);
  batch.class_embeddings = torch::zeros({3, 847, 32});
  batch.class_valid = torch::zeros({3, 847}, torch::kBool);
  for (int64_t r = 0; r < 3; ++r) {
    batch.mask_logits[r].narrow(0, 0, proposals[r]).copy_(masks[r][0]);
    batch.proposal_valid[r].narrow(0, 0, proposals[r]).fill_(true);
    batch.class_embeddings[r].narrow(0, 0, sizes[r]).copy_(classes[r][0]);
    batch.class_valid[r].narrow(0, 0, sizes[r]).fill_(true);
  }
  const torch::Tensor batched = f.classifier->forward(batch).class_logits;
  // TeVA's keys and values projected per vocabulary (as the serving cache holds them) and
  // padded into the batch give the same logits as projecting the padded batch.
  std::vector<std::shared_ptr<const TevaTargets>> parts;
  for (int64_t r = 0; r < 3; ++r) {
    parts.push_back(std::make_shared<const TevaTargets>(
        f.classifier->ProjectTargets(classes[r], torch::ones({1, sizes[r]}, torch::kBool))));
  }
  MaskClassifierInput cached = batch;
  cached.teva_targets = BatchTevaTargets(parts);
  EXPECT_LE((f.classifier->forward(cached).class_logits - batched)
                .nan_to_num(0, 0, 0)
                .abs()
                .max()
                .item<double>(),
            1e-4);
  for (int64_t r = 0; r < 3; ++r) {
    const torch::Tensor alone =
        f.classifier->forward(Input(images[r], masks[r], classes[r])).class_logits[0];
    const torch::Tensor got = batched[r].narrow(0, 0, proposals[r]);
    // Classes, then void (at 847 in the batch, at sizes[r] alone).
    EXPECT_LE(
        (got.narrow(1, 0, sizes[r]) - alone.narrow(1, 0, sizes[r])).abs().max().item<double>(),
        1e-4)
        << sizes[r];
    EXPECT_LE((got.select(1, 847) - alone.select(1, sizes[r])).abs().max().item<double>(), 1e-4);
    // Padded classes never win.
    if (sizes[r] < 847) {
      EXPECT_TRUE(torch::isinf(got.narrow(1, sizes[r], 847 - sizes[r])).all().item<bool>());
      const torch::Tensor winners = got.argmax(1);
      EXPECT_TRUE(((winners < sizes[r]) | (winners == 847)).all().item<bool>());
    }
  }
}

TEST(MaskClassifierTest, OneSharedVocabularyIsExpandedNotCopied) {
  Fixture f = Make();
  torch::NoGradGuard no_grad;
  auto groups = f.classifier->ParameterGroups();  // Outlives the loop.
  for (auto& p : groups["teva"]) p.normal_(0, 0.05);
  const torch::Tensor classes = Classes(1, 9);
  auto one = std::make_shared<const TevaTargets>(
      f.classifier->ProjectTargets(classes, torch::ones({1, 9}, torch::kBool)));
  const std::shared_ptr<const TevaTargets> batch = BatchTevaTargets({one, one, one});
  EXPECT_EQ(batch->keys[0].size(0), 3);
  EXPECT_EQ(batch->keys[0].data_ptr(), one->keys[0].data_ptr());  // No copy.
  MaskClassifierInput in = Input(Images(3), RandomMasks(3, 4), classes.expand({3, 9, 32}));
  const torch::Tensor direct = f.classifier->forward(in).class_logits;
  in.teva_targets = batch;
  EXPECT_LE((f.classifier->forward(in).class_logits - direct).abs().max().item<double>(), 1e-5);
  // Targets of the wrong length are refused, not silently misread.
  in.teva_targets = BatchTevaTargets({std::make_shared<const TevaTargets>(
      f.classifier->ProjectTargets(Classes(3, 5), torch::ones({3, 5}, torch::kBool)))});
  EXPECT_THROW(f.classifier->forward(in), c10::Error);
}

TEST(MaskClassifierTest, LiteralTevaIsEquation9AndLearnsFromStepOne) {
  // FOV-Seg Eq. 9-10, written out independently: per head h of width d,
  // M^_h = softmax(g_q(M)_h g_k(T)_h^T / sqrt(d)) g_v(T)_h, heads concatenated. The literal
  // mode's output projection starts as the identity, so it is exactly that.
  torch::manual_seed(9);
  const int64_t width = 64, embed = 32, heads = 4, d = width / heads;
  TevaCrossAttention attn(width, embed, heads, /*residual=*/false);
  const torch::Tensor tokens = torch::randn({2, 5, width});
  const torch::Tensor targets = torch::randn({2, 7, embed});
  const torch::Tensor valid = torch::ones({2, 7}, torch::kBool);
  const torch::Tensor got = attn->forward(tokens, targets, valid);
  torch::Tensor want;
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor q = torch::matmul(tokens, attn->g_q->weight.t()) + attn->g_q->bias;
    const torch::Tensor k = torch::matmul(targets, attn->g_k->weight.t()) + attn->g_k->bias;
    const torch::Tensor v = torch::matmul(targets, attn->g_v->weight.t()) + attn->g_v->bias;
    std::vector<torch::Tensor> parts;
    for (int64_t h = 0; h < heads; ++h) {
      const torch::Tensor qh = q.narrow(2, h * d, d), kh = k.narrow(2, h * d, d);
      const torch::Tensor vh = v.narrow(2, h * d, d);
      parts.push_back(torch::matmul(
          torch::softmax(torch::matmul(qh, kh.transpose(1, 2)) / std::sqrt(double(d)), -1), vh));
    }
    want = torch::cat(parts, 2);
  }
  EXPECT_TRUE(torch::allclose(got, want, 1e-5, 1e-5)) << (got - want).abs().max();

  // In a classifier, one backward step reaches g_q, g_k and g_v of every block.
  MaskClassifierConfig literal;
  literal.teva_residual = false;
  Fixture f = Make(literal);
  const MaskClassifierOutput out =
      f.classifier->forward(Input(Images(2), RandomMasks(2, 3), Classes(2, 5)));
  out.class_logits.narrow(2, 0, 5).logsumexp(2).sum().backward();
  for (size_t i = 0; i < f.classifier->teva->size(); ++i) {
    auto* block = f.classifier->teva[i]->as<TevaCrossAttentionImpl>();
    for (const torch::Tensor& w : {block->g_q->weight, block->g_k->weight, block->g_v->weight}) {
      ASSERT_TRUE(w.grad().defined()) << "block " << i;
      EXPECT_GT(w.grad().abs().sum().item<double>(), 0.0) << "block " << i;
    }
  }
}

TEST(MaskClassifierTest, Bf16CrossAttentionMatchesFp32) {
  // bf16 on CPU takes a matmul-softmax path instead of SDPA; it must agree with fp32 SDPA
  // to bf16 precision, padding included.
  torch::manual_seed(4);
  TevaCrossAttention attn(64, 32, 4);
  torch::NoGradGuard no_grad;
  attn->out->weight.normal_(0, 0.1);
  const torch::Tensor tokens = torch::randn({2, 7, 64});
  const torch::Tensor targets = torch::randn({2, 150, 32});
  torch::Tensor valid = torch::ones({2, 150}, torch::kBool);
  valid[1].narrow(0, 100, 50).fill_(false);
  const torch::Tensor want = attn->forward(tokens, targets, valid);
  attn->to(torch::kBFloat16);
  const torch::Tensor got =
      attn->forward(tokens.to(torch::kBFloat16), targets.to(torch::kBFloat16), valid)
          .to(torch::kFloat32);
  EXPECT_GT(torch::nn::functional::cosine_similarity(
                got.flatten(), want.flatten(),
                torch::nn::functional::CosineSimilarityFuncOptions().dim(0))
                .item<double>(),
            0.999);
  // Padded targets take no part: changing them changes nothing.
  torch::Tensor changed = targets.clone();
  changed[1].narrow(0, 100, 50).normal_();
  const torch::Tensor again =
      attn->forward(tokens.to(torch::kBFloat16), changed.to(torch::kBFloat16), valid)
          .to(torch::kFloat32);
  EXPECT_TRUE(torch::equal(again[1], got[1]));
}

TEST(MaskClassifierTest, EmptyAndFullMasksAreFinite) {
  Fixture f = Make();
  torch::NoGradGuard no_grad;
  torch::Tensor masks =
      torch::stack({torch::full({32, 32}, -1.0f), torch::full({32, 32}, 1.0f)}).unsqueeze(0);
  const MaskClassifierOutput out = f.classifier->forward(Input(Images(1), masks, Classes(1, 4)));
  EXPECT_TRUE(torch::isfinite(out.class_logits).all().item<bool>());
  // The empty mask sees only the class token; the full mask sees everything.
  const torch::Tensor s = MaskAttentionSupport(masks, 4, 4);
  EXPECT_EQ(s[0][0].sum().item<int64_t>(), 1);
  EXPECT_EQ(s[0][1].sum().item<int64_t>(), 17);
}

TEST(MaskClassifierTest, GradientsReachOnlyTevaAndQueryProjections) {
  Fixture f = Make();
  const MaskClassifierOutput out =
      f.classifier->forward(Input(Images(2), RandomMasks(2, 3), Classes(2, 5)));
  out.class_logits.sum().backward();
  auto groups = f.classifier->ParameterGroups();
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups["clip_fq"].size(), 4u);  // Weight and bias of 2 blocks.
  for (const auto& p : groups["frozen"]) {
    EXPECT_FALSE(p.requires_grad());
    EXPECT_FALSE(p.grad().defined());
  }
  for (const auto& p : groups["clip_fq"]) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_GT(p.grad().abs().sum().item<double>(), 0);
  }
  double teva_grad = 0;
  for (const auto& p : groups["teva"]) {
    ASSERT_TRUE(p.grad().defined());
    teva_grad += p.grad().abs().sum().item<double>();
  }
  EXPECT_GT(teva_grad, 0);  // The zero output projection and the void get gradients first.
  EXPECT_GT(f.classifier->void_embedding.grad().abs().sum().item<double>(), 0);
}

}  // namespace
}  // namespace ovseg
