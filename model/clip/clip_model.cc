#include "model/clip/clip_model.h"

#include <cmath>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ovseg {
namespace F = torch::nn::functional;

namespace {

// Distinct N in "<prefix>N." keys: the number of transformer blocks.
int64_t CountBlocks(const std::map<std::string, torch::Tensor>& state, const std::string& prefix) {
  std::set<int64_t> ids;
  for (const auto& [key, value] : state) {
    if (key.compare(0, prefix.size(), prefix) != 0) continue;
    const size_t dot = key.find('.', prefix.size());
    if (dot == std::string::npos) continue;
    const std::string number = key.substr(prefix.size(), dot - prefix.size());
    if (!number.empty() && number.find_first_not_of("0123456789") == std::string::npos) {
      ids.insert(std::stoll(number));
    }
  }
  if (ids.empty() || *ids.rbegin() + 1 != static_cast<int64_t>(ids.size())) return -1;
  return static_cast<int64_t>(ids.size());
}

absl::StatusOr<torch::Tensor> Require(const std::map<std::string, torch::Tensor>& state,
                                      const std::string& key, int64_t dims) {
  auto it = state.find(key);
  if (it == state.end())
    return absl::InvalidArgumentError(absl::StrCat("clip: missing \"", key, "\""));
  if (it->second.dim() != dims) {
    return absl::InvalidArgumentError(
        absl::StrCat("clip: \"", key, "\" has ", it->second.dim(), " dimensions, expected ", dims));
  }
  return it->second;
}

absl::StatusOr<int64_t> HeadsFor(int64_t width, const char* which) {
  if (width <= 0 || width % 64 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "clip: ", which, " width ", width, " is not a multiple of 64 (heads = width / 64)"));
  }
  return width / 64;
}

}  // namespace

absl::StatusOr<ClipConfig> InferClipConfig(const std::map<std::string, torch::Tensor>& state,
                                           bool quick_gelu) {
  ClipConfig c;
  c.quick_gelu = quick_gelu;
  auto conv = Require(state, "visual.conv1.weight", 4);
  auto vpos = Require(state, "visual.positional_embedding", 2);
  auto vproj = Require(state, "visual.proj", 2);
  auto tok = Require(state, "token_embedding.weight", 2);
  auto tpos = Require(state, "positional_embedding", 2);
  auto tproj = Require(state, "text_projection", 2);
  for (const auto* s : {&conv, &vpos, &vproj, &tok, &tpos, &tproj}) {
    if (!s->ok()) return s->status();
  }
  c.vision.width = conv->size(0);
  c.vision.patch_size = conv->size(3);
  const int64_t tokens = vpos->size(0) - 1;
  const auto grid = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(tokens))));
  if (tokens <= 0 || grid * grid != tokens) {
    return absl::InvalidArgumentError(absl::StrCat("clip: visual.positional_embedding has ",
                                                   tokens + 1, " rows, not 1 + a square grid"));
  }
  c.vision.image_size = grid * c.vision.patch_size;
  c.vision.layers = CountBlocks(state, "visual.transformer.resblocks.");
  c.text.layers = CountBlocks(state, "transformer.resblocks.");
  if (c.vision.layers <= 0 || c.text.layers <= 0) {
    return absl::InvalidArgumentError(
        "clip: transformer blocks missing or not numbered 0..N-1 (visual.transformer.resblocks.N, "
        "transformer.resblocks.N)");
  }
  c.text.vocab_size = tok->size(0);
  c.text.width = tok->size(1);
  c.text.context_length = tpos->size(0);
  c.embed_dim = tproj->size(1);
  auto vh = HeadsFor(c.vision.width, "vision");
  auto th = HeadsFor(c.text.width, "text");
  if (!vh.ok()) return vh.status();
  if (!th.ok()) return th.status();
  c.vision.heads = *vh;
  c.text.heads = *th;
  if (vproj->size(0) != c.vision.width || vproj->size(1) != c.embed_dim) {
    return absl::InvalidArgumentError(absl::StrCat("clip: visual.proj is [", vproj->size(0), ", ",
                                                   vproj->size(1), "], expected [", c.vision.width,
                                                   ", ", c.embed_dim, "]"));
  }
  return c;
}

ClipAttentionImpl::ClipAttentionImpl(int64_t width, int64_t heads) : heads_(heads) {
  in_proj_weight = register_parameter("in_proj_weight", torch::empty({3 * width, width}));
  in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * width}));
  out_proj = register_module("out_proj", torch::nn::Linear(width, width));
  torch::nn::init::xavier_uniform_(in_proj_weight);
}

std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> ClipAttentionImpl::Project(
    const torch::Tensor& x) {
  const int64_t b = x.size(0), l = x.size(1), c = x.size(2);
  std::vector<torch::Tensor> qkv = F::linear(x, in_proj_weight, in_proj_bias).chunk(3, -1);
  auto heads = [&](const torch::Tensor& t) {
    return t.view({b, l, heads_, c / heads_}).transpose(1, 2);
  };
  return {heads(qkv[0]), heads(qkv[1]), heads(qkv[2])};
}

torch::Tensor ClipAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& mask,
                                         bool causal) {
  auto [q, k, v] = Project(x);
  torch::Tensor o = at::scaled_dot_product_attention(
      q, k, v, mask.defined() ? std::optional<torch::Tensor>(mask) : std::nullopt, 0.0, causal);
  return out_proj(o.transpose(1, 2).reshape({x.size(0), x.size(1), x.size(2)}));
}

ClipMlpImpl::ClipMlpImpl(int64_t width, bool quick_gelu) : quick_gelu_(quick_gelu) {
  c_fc = register_module("c_fc", torch::nn::Linear(width, 4 * width));
  c_proj = register_module("c_proj", torch::nn::Linear(4 * width, width));
}

torch::Tensor ClipMlpImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = c_fc(x);
  h = quick_gelu_ ? h * torch::sigmoid(1.702 * h) : F::gelu(h);
  return c_proj(h);
}

ClipResidualBlockImpl::ClipResidualBlockImpl(int64_t width, int64_t heads, bool quick_gelu) {
  ln_1 = register_module("ln_1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
  attn = register_module("attn", ClipAttention(width, heads));
  ln_2 = register_module("ln_2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
  mlp = register_module("mlp", ClipMlp(width, quick_gelu));
}

torch::Tensor ClipResidualBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& mask,
                                             bool causal) {
  torch::Tensor y = x + attn(ln_1(x), mask, causal);
  return y + mlp(ln_2(y));
}

ClipTransformerImpl::ClipTransformerImpl(int64_t width, int64_t layers, int64_t heads,
                                         bool quick_gelu) {
  resblocks = register_module("resblocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < layers; ++i)
    resblocks->push_back(ClipResidualBlock(width, heads, quick_gelu));
}

ClipResidualBlock ClipTransformerImpl::block(int64_t i) const {
  return ClipResidualBlock(std::dynamic_pointer_cast<ClipResidualBlockImpl>(resblocks->ptr(i)));
}

ClipVisionImpl::ClipVisionImpl(const ClipConfig& config) : config_(config) {
  const ClipVisionConfig& v = config.vision;
  const int64_t grid = v.image_size / v.patch_size;
  conv1 = register_module(
      "conv1",
      torch::nn::Conv2d(
          torch::nn::Conv2dOptions(3, v.width, v.patch_size).stride(v.patch_size).bias(false)));
  class_embedding = register_parameter("class_embedding", torch::randn({v.width}) * 0.02);
  positional_embedding =
      register_parameter("positional_embedding", torch::randn({grid * grid + 1, v.width}) * 0.02);
  ln_pre = register_module("ln_pre", torch::nn::LayerNorm(torch::nn::LayerNormOptions({v.width})));
  transformer = register_module("transformer",
                                ClipTransformer(v.width, v.layers, v.heads, config.quick_gelu));
  ln_post =
      register_module("ln_post", torch::nn::LayerNorm(torch::nn::LayerNormOptions({v.width})));
  proj = register_parameter("proj", torch::randn({v.width, config.embed_dim}) * 0.02);
}

void ClipVisionImpl::ClearCache() {
  std::lock_guard<std::mutex> lock(cache_mu_);
  pos_cache_.clear();
}

torch::Tensor ClipVisionImpl::PositionalEmbedding(int64_t grid_h, int64_t grid_w) {
  const int64_t grid = config_.vision.image_size / config_.vision.patch_size;
  if (grid_h == grid && grid_w == grid) return positional_embedding;
  const auto key =
      std::make_tuple(grid_h, grid_w, static_cast<int>(positional_embedding.scalar_type()),
                      positional_embedding.device().str());
  std::lock_guard<std::mutex> lock(cache_mu_);
  auto it = pos_cache_.find(key);
  if (it != pos_cache_.end()) return it->second;
  const int64_t c = positional_embedding.size(1);
  torch::NoGradGuard no_grad;
  const torch::Tensor cls = positional_embedding.narrow(0, 0, 1);
  torch::Tensor patches = positional_embedding.narrow(0, 1, grid * grid)
                              .to(torch::kFloat32)
                              .reshape({1, grid, grid, c})
                              .permute({0, 3, 1, 2});
  F::InterpolateFuncOptions options;
  options.size(std::vector<int64_t>{grid_h, grid_w}).align_corners(false);
  if (config_.interpolation == PosEmbedInterpolation::kBicubic) {
    options.mode(torch::kBicubic);
  } else {
    options.mode(torch::kBilinear);
  }
  patches = F::interpolate(patches, options);
  patches = patches.permute({0, 2, 3, 1}).reshape({grid_h * grid_w, c});
  torch::Tensor out = torch::cat({cls, patches.to(positional_embedding.scalar_type())}, 0);
  pos_cache_.emplace(key, out);
  return out;
}

torch::Tensor ClipVisionImpl::Embed(const torch::Tensor& images, int64_t* grid_h, int64_t* grid_w) {
  const int64_t p = config_.vision.patch_size;
  TORCH_CHECK(images.dim() == 4 && images.size(1) == 3, "clip: images must be [B, 3, H, W]");
  TORCH_CHECK(images.size(2) % p == 0 && images.size(3) % p == 0, "clip: image size ",
              images.size(2), "x", images.size(3), " is not a multiple of the patch size ", p);
  *grid_h = images.size(2) / p;
  *grid_w = images.size(3) / p;
  torch::Tensor x = conv1(images.to(conv1->weight.scalar_type()));  // [B, C, gh, gw]
  x = x.flatten(2).transpose(1, 2);                                 // [B, n, C]
  const torch::Tensor cls = class_embedding.view({1, 1, -1}).expand({x.size(0), 1, x.size(2)});
  x = torch::cat({cls, x}, 1) + PositionalEmbedding(*grid_h, *grid_w).unsqueeze(0);
  return ln_pre(x);
}

ClipVisionOutput ClipVisionImpl::forward(const torch::Tensor& images,
                                         const std::vector<int64_t>& layers) {
  ClipVisionOutput out;
  torch::Tensor x = Embed(images, &out.grid_h, &out.grid_w);
  const int64_t n = transformer->size();
  for (int64_t layer : layers) {
    TORCH_CHECK(layer >= 0 && layer < n, "clip: requested layer ", layer, " outside 0..", n - 1);
  }
  out.layers.resize(layers.size());
  for (int64_t i = 0; i < n; ++i) {
    x = transformer->resblocks[i]->as<ClipResidualBlockImpl>()->forward(x);
    for (size_t k = 0; k < layers.size(); ++k) {
      if (layers[k] == i) out.layers[k] = x;
    }
  }
  out.tokens = x;
  out.embedding = torch::matmul(ln_post(x.select(1, 0)), proj);
  return out;
}

ClipModelImpl::ClipModelImpl(const ClipConfig& config) : config_(config) {
  const ClipTextConfig& t = config.text;
  visual = register_module("visual", ClipVision(config));
  token_embedding = register_module("token_embedding", torch::nn::Embedding(t.vocab_size, t.width));
  positional_embedding =
      register_parameter("positional_embedding", torch::randn({t.context_length, t.width}) * 0.01);
  transformer = register_module("transformer",
                                ClipTransformer(t.width, t.layers, t.heads, config.quick_gelu));
  ln_final =
      register_module("ln_final", torch::nn::LayerNorm(torch::nn::LayerNormOptions({t.width})));
  text_projection =
      register_parameter("text_projection", torch::randn({t.width, config.embed_dim}) * 0.02);
  logit_scale = register_parameter("logit_scale", torch::full({}, std::log(1 / 0.07)));
}

torch::Tensor ClipModelImpl::EncodeText(const torch::Tensor& tokens) {
  TORCH_CHECK(tokens.dim() == 2, "clip: tokens must be [B, L]");
  TORCH_CHECK(tokens.size(1) <= config_.text.context_length, "clip: ", tokens.size(1),
              " tokens exceed the context length ", config_.text.context_length);
  const torch::Tensor ids = tokens.to(torch::kLong);
  const torch::Tensor eot = ids.argmax(-1);
  const int64_t length = eot.max().item<int64_t>() + 1;
  const torch::Tensor cut = ids.narrow(1, 0, length);
  torch::Tensor x = token_embedding(cut) + positional_embedding.narrow(0, 0, length).unsqueeze(0);
  for (int64_t i = 0; i < transformer->size(); ++i) {
    x = transformer->resblocks[i]->as<ClipResidualBlockImpl>()->forward(x, {}, /*causal=*/true);
  }
  x = ln_final(x);
  const torch::Tensor rows = torch::arange(x.size(0), torch::TensorOptions().device(x.device()));
  return torch::matmul(x.index({rows, eot}), text_projection);
}

absl::Status LoadClipState(ClipModel& model, const std::map<std::string, torch::Tensor>& state) {
  // OpenAI's archives carry these three as plain numbers, not weights.
  static const std::set<std::string> kIgnored = {"input_resolution", "context_length",
                                                 "vocab_size"};
  std::vector<std::string> missing, unexpected, misshaped;
  std::set<std::string> used;
  torch::NoGradGuard no_grad;
  for (auto& item : model->named_parameters(/*recurse=*/true)) {
    const std::string& name = item.key();
    torch::Tensor& param = item.value();
    auto it = state.find(name);
    if (it == state.end()) {
      missing.push_back(name);
      continue;
    }
    used.insert(name);
    if (it->second.sizes() != param.sizes()) {
      std::ostringstream shape;
      shape << name << " " << it->second.sizes() << " (model " << param.sizes() << ")";
      misshaped.push_back(shape.str());
      continue;
    }
    param.copy_(it->second.to(param.device(), param.scalar_type()));
  }
  for (const auto& [name, value] : state) {
    if (!used.count(name) && !kIgnored.count(name)) unexpected.push_back(name);
  }
  model->visual->ClearCache();
  if (missing.empty() && unexpected.empty() && misshaped.empty()) return absl::OkStatus();
  std::string message = "clip: weights do not fit the model:";
  if (!missing.empty()) absl::StrAppend(&message, " missing [", absl::StrJoin(missing, ", "), "]");
  if (!unexpected.empty()) {
    absl::StrAppend(&message, " unexpected [", absl::StrJoin(unexpected, ", "), "]");
  }
  if (!misshaped.empty()) {
    absl::StrAppend(&message, " mis-shaped [", absl::StrJoin(misshaped, ", "), "]");
  }
  return absl::InvalidArgumentError(message);
}

}  // namespace ovseg
