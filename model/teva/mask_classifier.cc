#include "model/teva/mask_classifier.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "model/runtime/attention_ops.h"

namespace ovseg {
namespace F = torch::nn::functional;

TevaCrossAttentionImpl::TevaCrossAttentionImpl(int64_t width, int64_t embed_dim, int64_t heads,
                                               bool residual)
    : heads_(heads) {
  g_q = register_module("g_q", torch::nn::Linear(width, width));
  g_k = register_module("g_k", torch::nn::Linear(embed_dim, width));
  g_v = register_module("g_v", torch::nn::Linear(embed_dim, width));
  out = register_module("out", torch::nn::Linear(width, width));
  torch::NoGradGuard no_grad;
  if (residual) {
    out->weight.zero_();
  } else {
    out->weight.copy_(torch::eye(width));
  }
  out->bias.zero_();
}

torch::Tensor TevaCrossAttentionImpl::forward(const torch::Tensor& tokens,
                                              const torch::Tensor& targets,
                                              const torch::Tensor& target_valid) {
  const auto [k, v] = ProjectTargets(targets);
  return Attend(tokens, k, v, target_valid);
}

std::pair<torch::Tensor, torch::Tensor> TevaCrossAttentionImpl::ProjectTargets(
    const torch::Tensor& targets) {
  return {SplitHeads(g_k(targets), heads_), SplitHeads(g_v(targets), heads_)};
}

torch::Tensor TevaCrossAttentionImpl::Attend(const torch::Tensor& tokens, const torch::Tensor& keys,
                                             const torch::Tensor& values,
                                             const torch::Tensor& target_valid) {
  const torch::Tensor q = SplitHeads(g_q(tokens), heads_);
  // [B, 1, 1, T]: padded classes take no part.
  const torch::Tensor mask = target_valid.to(torch::kBool).view({target_valid.size(0), 1, 1, -1});
  return out(MergeHeads(MaskedAttention(q, keys, values, mask)));
}

int64_t TevaTargets::Bytes() const {
  int64_t bytes = 0;
  for (const auto* list : {&keys, &values}) {
    for (const torch::Tensor& t : *list) bytes += t.numel() * t.element_size();
  }
  return bytes;
}

DistributionAdapterImpl::DistributionAdapterImpl(int64_t hidden) {
  conv1 = register_module("conv1",
                          torch::nn::Conv2d(torch::nn::Conv2dOptions(1, hidden, 3).padding(1)));
  conv2 = register_module("conv2",
                          torch::nn::Conv2d(torch::nn::Conv2dOptions(hidden, 1, 3).padding(1)));
  torch::NoGradGuard no_grad;
  conv2->weight.zero_();
  conv2->bias.fill_(10.0);
}

torch::Tensor DistributionAdapterImpl::forward(const torch::Tensor& mask_logits) {
  return conv2(torch::gelu(conv1(mask_logits)));
}

torch::Tensor MaskAttentionSupport(const torch::Tensor& mask_logits, int64_t grid_h,
                                   int64_t grid_w) {
  const int64_t b = mask_logits.size(0), n = mask_logits.size(1);
  const torch::Tensor inside = (mask_logits > 0).to(torch::kFloat32).flatten(0, 1).unsqueeze(1);
  const torch::Tensor patches =
      F::adaptive_max_pool2d(inside, F::AdaptiveMaxPool2dFuncOptions({grid_h, grid_w}))
          .view({b, n, grid_h * grid_w}) > 0.5;
  const torch::Tensor cls = torch::ones({b, n, 1}, patches.options());
  return torch::cat({cls, patches}, 2);
}

MaskClassifierImpl::MaskClassifierImpl(ClipVision clip_visual, int64_t embed_dim,
                                       const MaskClassifierConfig& config)
    : config_(config), embed_dim_(embed_dim) {
  clip = register_module("clip", std::move(clip_visual));
  for (auto& p : clip->parameters()) p.set_requires_grad(false);
  const int64_t width = clip->class_embedding.size(0);
  const int64_t blocks = clip->transformer->size();
  teva = register_module("teva", torch::nn::ModuleList());
  for (int64_t i = 0; i < blocks; ++i) {
    teva->push_back(TevaCrossAttention(width, embed_dim, clip->transformer->block(i)->attn->heads(),
                                       config.teva_residual));
  }
  adapter = register_module("adapter", DistributionAdapter(config.adapter_hidden));
  void_embedding = register_parameter("void_embedding", torch::randn({embed_dim}) * 0.02);
  for (int64_t i = 0; i < blocks; ++i) {
    fq_weight.push_back(
        register_parameter("fq_weight_" + std::to_string(i), torch::empty({width, width})));
    fq_bias.push_back(register_parameter("fq_bias_" + std::to_string(i), torch::empty({width})));
  }
  ResetQueryProjections();
}

void MaskClassifierImpl::ResetQueryProjections() {
  torch::NoGradGuard no_grad;
  const int64_t width = clip->class_embedding.size(0);
  for (size_t i = 0; i < fq_weight.size(); ++i) {
    ClipAttention attn = clip->transformer->block(static_cast<int64_t>(i))->attn;
    fq_weight[i].copy_(attn->in_proj_weight.narrow(0, 0, width));
    fq_bias[i].copy_(attn->in_proj_bias.narrow(0, 0, width));
  }
}

std::map<std::string, std::vector<torch::Tensor>> MaskClassifierImpl::ParameterGroups() {
  std::map<std::string, std::vector<torch::Tensor>> groups;
  for (const auto& item : named_parameters(/*recurse=*/true)) {
    const std::string& name = item.key();
    const char* group = name.rfind("clip.", 0) == 0 ? "frozen"
                        : name.rfind("fq_", 0) == 0 ? "clip_fq"
                                                    : "teva";
    groups[group].push_back(item.value());
  }
  return groups;
}

TevaTargets MaskClassifierImpl::ProjectTargets(const torch::Tensor& class_embeddings,
                                               const torch::Tensor& class_valid) {
  TevaTargets targets;
  const torch::Tensor embeddings = class_embeddings.to(clip->proj.scalar_type());
  for (size_t i = 0; i < teva->size(); ++i) {
    auto [k, v] = teva[i]->as<TevaCrossAttentionImpl>()->ProjectTargets(embeddings);
    targets.keys.push_back(std::move(k));
    targets.values.push_back(std::move(v));
  }
  targets.valid = class_valid.to(torch::kBool);
  return targets;
}

std::vector<torch::Tensor> MaskClassifierImpl::EncodeImageTokens(const torch::Tensor& images,
                                                                 const std::vector<int64_t>& layers,
                                                                 int64_t* grid_h, int64_t* grid_w) {
  torch::Tensor x = clip->Embed(images, grid_h, grid_w);
  const int64_t c = x.size(2);
  int64_t last = -1;
  for (int64_t layer : layers) {
    TORCH_CHECK(layer >= 0 && layer < clip->transformer->size(), "EncodeImageTokens: block ", layer,
                " outside 0..", clip->transformer->size() - 1);
    last = std::max(last, layer);
  }
  std::vector<torch::Tensor> out(layers.size());
  for (int64_t i = 0; i <= last; ++i) {
    ClipResidualBlock block = clip->transformer->block(i);
    const int64_t heads = block->attn->heads();
    const torch::Tensor xl = block->ln_1(x);
    const torch::Tensor& w = block->attn->in_proj_weight;
    const torch::Tensor& wb = block->attn->in_proj_bias;
    // As forward(): the trained f_q for queries, CLIP's own keys and values.
    const torch::Tensor q = SplitHeads(F::linear(xl, fq_weight[i], fq_bias[i]), heads);
    const torch::Tensor k = SplitHeads(F::linear(xl, w.narrow(0, c, c), wb.narrow(0, c, c)), heads);
    const torch::Tensor v =
        SplitHeads(F::linear(xl, w.narrow(0, 2 * c, c), wb.narrow(0, 2 * c, c)), heads);
    x = x + block->attn->out_proj(MergeHeads(at::scaled_dot_product_attention(q, k, v)));
    x = x + block->mlp(block->ln_2(x));
    for (size_t j = 0; j < layers.size(); ++j) {
      if (layers[j] == i) out[j] = x;
    }
  }
  return out;
}

MaskClassifierOutput MaskClassifierImpl::forward(const MaskClassifierInput& in) {
  MaskClassifierOutput out;
  torch::Tensor x = clip->Embed(in.images, &out.grid_h, &out.grid_w);  // [B, L, C]
  const int64_t b = x.size(0), l = x.size(1), c = x.size(2);
  const int64_t n = in.mask_logits.size(1);
  const auto dtype = x.scalar_type();
  torch::Tensor m = x.narrow(1, 0, 1).expand({b, n, c}).contiguous();

  // Additive attention bias of the mask-token rows: 0 on the support, -inf elsewhere, plus
  // the adapter's soft bias on patches. Padded proposals see only the class token.
  torch::Tensor support = MaskAttentionSupport(in.mask_logits, out.grid_h, out.grid_w);
  support = support & in.proposal_valid.to(torch::kBool).unsqueeze(-1);
  support.select(2, 0).fill_(true);
  torch::Tensor bias = torch::zeros({b, n, l}, x.options().dtype(torch::kFloat32));
  if (config_.use_adapter) {
    const int64_t h = in.mask_logits.size(2), w = in.mask_logits.size(3);
    const torch::Tensor da =
        adapter(in.mask_logits.reshape({b * n, 1, h, w}).to(adapter->conv1->weight.scalar_type()));
    const torch::Tensor soft =
        F::adaptive_avg_pool2d(F::logsigmoid(da.to(torch::kFloat32)),
                               F::AdaptiveAvgPool2dFuncOptions({out.grid_h, out.grid_w}));
    bias =
        bias + torch::cat({torch::zeros({b, n, 1}, bias.options()), soft.view({b, n, l - 1})}, 2);
  }
  bias = bias.masked_fill(~support, -std::numeric_limits<float>::infinity());
  const torch::Tensor mask_bias = bias.unsqueeze(1).to(dtype);  // [B, 1, N, L]

  std::shared_ptr<const TevaTargets> targets = in.teva_targets;
  if (config_.use_teva && targets == nullptr) {
    targets = std::make_shared<TevaTargets>(ProjectTargets(in.class_embeddings, in.class_valid));
  }
  if (config_.use_teva) {
    TORCH_CHECK(targets->keys.size() == teva->size() && targets->valid.size(0) == b &&
                    targets->num_targets() == in.class_valid.size(1),
                "MaskClassifier: teva_targets do not match the batch's classes");
  }
  for (int64_t i = 0; i < clip->transformer->size(); ++i) {
    ClipResidualBlock block = clip->transformer->block(i);
    const int64_t heads = block->attn->heads();
    const torch::Tensor xl = block->ln_1(x);
    torch::Tensor ml = block->ln_1(m);
    if (config_.use_teva) {
      const torch::Tensor t = teva[i]->as<TevaCrossAttentionImpl>()->Attend(
          ml, targets->keys[i], targets->values[i], targets->valid);
      ml = config_.teva_residual ? ml + t : t;
    }
    const torch::Tensor& w = block->attn->in_proj_weight;
    const torch::Tensor& wb = block->attn->in_proj_bias;
    const torch::Tensor k = F::linear(xl, w.narrow(0, c, c), wb.narrow(0, c, c));
    const torch::Tensor v = F::linear(xl, w.narrow(0, 2 * c, c), wb.narrow(0, 2 * c, c));
    const torch::Tensor kh = SplitHeads(k, heads), vh = SplitHeads(v, heads);
    // Image tokens: unmasked self-attention (SDPA's fused kernels apply). Mask tokens: the
    // same keys and values under their support bias. Two calls, because an additive mask
    // over the image rows would push the large image attention onto the slow path.
    const torch::Tensor qx = SplitHeads(F::linear(xl, fq_weight[i], fq_bias[i]), heads);
    const torch::Tensor qm = SplitHeads(F::linear(ml, fq_weight[i], fq_bias[i]), heads);
    const torch::Tensor attended =
        torch::cat({MergeHeads(at::scaled_dot_product_attention(qx, kh, vh)),
                    MergeHeads(at::scaled_dot_product_attention(qm, kh, vh, mask_bias))},
                   1);
    torch::Tensor y = torch::cat({x, m}, 1) + block->attn->out_proj(attended);
    y = y + block->mlp(block->ln_2(y));
    x = y.narrow(1, 0, l);
    m = y.narrow(1, l, n);
    if (std::find(in.dense_layers.begin(), in.dense_layers.end(), i) != in.dense_layers.end()) {
      out.dense_features.push_back(x);
    }
  }
  out.mask_embeddings =
      F::normalize(torch::matmul(clip->ln_post(m), clip->proj).to(torch::kFloat32),
                   F::NormalizeFuncOptions().dim(-1));
  const torch::Tensor classes =
      F::normalize(in.class_embeddings.to(torch::kFloat32), F::NormalizeFuncOptions().dim(-1));
  const torch::Tensor void_row =
      F::normalize(void_embedding.to(torch::kFloat32), F::NormalizeFuncOptions().dim(0));
  torch::Tensor logits = torch::cat({torch::matmul(out.mask_embeddings, classes.transpose(1, 2)),
                                     torch::matmul(out.mask_embeddings, void_row).unsqueeze(-1)},
                                    2) *
                         config_.temperature;
  const torch::Tensor valid =
      torch::cat({in.class_valid.to(torch::kBool),
                  torch::ones({b, 1}, in.class_valid.options().dtype(torch::kBool))},
                 1);
  out.class_logits =
      logits.masked_fill(~valid.unsqueeze(1), -std::numeric_limits<float>::infinity());
  return out;
}

}  // namespace ovseg
