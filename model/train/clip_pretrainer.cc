#include "model/train/clip_pretrainer.h"

#include <cmath>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "model/runtime/autocast_scope.h"
#include "model/train/lr_schedule.h"

namespace ovseg {
namespace {

namespace F = torch::nn::functional;

void InitializeTransformer(ClipTransformer& transformer, int64_t width) {
  const double attn_std = std::pow(static_cast<double>(width), -0.5);
  const double proj_std = attn_std * std::pow(2.0 * static_cast<double>(transformer->size()), -0.5);
  const double fc_std = std::pow(2.0 * static_cast<double>(width), -0.5);
  for (int64_t i = 0; i < transformer->size(); ++i) {
    ClipResidualBlock block = transformer->block(i);
    torch::nn::init::normal_(block->attn->in_proj_weight, 0.0, attn_std);
    torch::nn::init::zeros_(block->attn->in_proj_bias);
    torch::nn::init::normal_(block->attn->out_proj->weight, 0.0, proj_std);
    torch::nn::init::zeros_(block->attn->out_proj->bias);
    torch::nn::init::normal_(block->mlp->c_fc->weight, 0.0, fc_std);
    torch::nn::init::zeros_(block->mlp->c_fc->bias);
    torch::nn::init::normal_(block->mlp->c_proj->weight, 0.0, proj_std);
    torch::nn::init::zeros_(block->mlp->c_proj->bias);
  }
}

// No decay on gains, biases, embeddings and the temperature (OpenCLIP's exclusion rule:
// every tensor of fewer than two dimensions, and the embedding tables).
bool Decays(const std::string& name, const torch::Tensor& p) {
  return p.dim() >= 2 && !absl::StrContains(name, "embedding") && name != "logit_scale";
}

}  // namespace

void InitializeClipForTraining(ClipModel& model) {
  torch::NoGradGuard no_grad;
  const ClipConfig& c = model->config();
  torch::nn::init::normal_(model->token_embedding->weight, 0.0, 0.02);
  torch::nn::init::normal_(model->positional_embedding, 0.0, 0.01);
  InitializeTransformer(model->transformer, c.text.width);
  torch::nn::init::normal_(model->text_projection, 0.0, std::pow(c.text.width, -0.5));
  ClipVision& v = model->visual;
  const double scale = std::pow(static_cast<double>(c.vision.width), -0.5);
  torch::nn::init::normal_(v->class_embedding, 0.0, scale);
  torch::nn::init::normal_(v->positional_embedding, 0.0, scale);
  torch::nn::init::normal_(v->proj, 0.0, scale);
  torch::nn::init::kaiming_uniform_(v->conv1->weight, std::sqrt(5.0));
  InitializeTransformer(v->transformer, c.vision.width);
  model->logit_scale.fill_(std::log(1 / 0.07));
  v->ClearCache();
}

torch::Tensor ClipContrastiveLoss(const torch::Tensor& image_embeddings,
                                  const torch::Tensor& text_embeddings,
                                  const torch::Tensor& logit_scale, double* accuracy,
                                  const ClipHardNegatives* negatives, double* negative_accuracy,
                                  const torch::Tensor& same_caption) {
  const auto unit = [](const torch::Tensor& x) {
    return F::normalize(x.to(torch::kFloat32), F::NormalizeFuncOptions().dim(-1));
  };
  const torch::Tensor image = unit(image_embeddings);
  const torch::Tensor scale = logit_scale.to(torch::kFloat32).exp();
  torch::Tensor logits = scale * image.matmul(unit(text_embeddings).t());
  if (same_caption.defined()) logits = logits.masked_fill(same_caption, -1e9);
  const torch::Tensor target = torch::arange(logits.size(0), logits.options().dtype(torch::kLong));
  torch::Tensor image_logits = logits;  // image -> caption: [B, B] or [B, B + N]
  torch::Tensor negative_logits;
  const bool with_negatives = negatives != nullptr && negatives->text_embeddings.defined() &&
                              negatives->text_embeddings.size(0) > 0;
  if (with_negatives) {
    negative_logits = (scale * image.matmul(unit(negatives->text_embeddings).t()))
                          .masked_fill(negatives->excluded, -1e9);
    image_logits = torch::cat({logits, negative_logits}, 1);
  }
  const torch::Tensor loss =
      (F::cross_entropy(image_logits, target) + F::cross_entropy(logits.t(), target)) / 2;
  torch::NoGradGuard no_grad;
  if (accuracy != nullptr) {
    const double rows = (logits.argmax(1) == target).to(torch::kFloat32).mean().item<double>();
    const double cols = (logits.argmax(0) == target).to(torch::kFloat32).mean().item<double>();
    *accuracy = (rows + cols) / 2;
  }
  if (negative_accuracy != nullptr) {
    *negative_accuracy = with_negatives ? (logits.diagonal() > std::get<0>(negative_logits.max(1)))
                                              .to(torch::kFloat32)
                                              .mean()
                                              .item<double>()
                                        : 0.0;
  }
  return loss;
}

torch::Tensor SameCaption(const torch::Tensor& tokens) {
  const int64_t b = tokens.size(0);
  return (tokens.unsqueeze(1) == tokens.unsqueeze(0)).all(2) &
         torch::eye(b, tokens.options().dtype(torch::kBool)).logical_not();
}

ClipPretrainer::ClipPretrainer(ClipModel model, ClipPretrainOptions options)
    : model_(std::move(model)), options_(options) {
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& p : model_->named_parameters()) {
    (Decays(p.key(), p.value()) ? decay : no_decay).push_back(p.value());
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(
      decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(options_.lr)
                                                              .weight_decay(options_.weight_decay)
                                                              .betas({0.9, 0.98})
                                                              .eps(1e-6)));
  groups.emplace_back(
      no_decay,
      std::make_unique<torch::optim::AdamWOptions>(
          torch::optim::AdamWOptions(options_.lr).weight_decay(0.0).betas({0.9, 0.98}).eps(1e-6)));
  optimizer_ = std::make_unique<torch::optim::AdamW>(std::move(groups));
}

ClipStepStats ClipPretrainer::Step(const torch::Tensor& images, const torch::Tensor& tokens,
                                   const torch::Tensor& negative_tokens,
                                   const torch::Tensor& excluded) {
  model_->train();
  ClipStepStats stats;
  stats.lr = WarmupDecaySchedule{options_.lr, options_.warmup_steps, options_.total_steps,
                                 WarmupDecaySchedule::Decay::kCosine}
                 .At(step_);
  SetAdamWLearningRate(*optimizer_, stats.lr);
  optimizer_->zero_grad();
  torch::Tensor loss;
  {
    AutocastScope autocast(images.device(), options_.autocast_bf16);
    std::optional<ClipHardNegatives> negatives;
    if (negative_tokens.defined() && negative_tokens.size(0) > 0) {
      negatives = ClipHardNegatives{model_->EncodeText(negative_tokens), excluded};
    }
    loss =
        ClipContrastiveLoss(model_->EncodeImage(images), model_->EncodeText(tokens),
                            model_->logit_scale, &stats.accuracy, negatives ? &*negatives : nullptr,
                            &stats.hard_negative_accuracy, SameCaption(tokens));
  }
  loss.backward();
  if (options_.data_parallel) options_.data_parallel->AverageGradients(model_->parameters());
  stats.grad_norm = torch::nn::utils::clip_grad_norm_(
      model_->parameters(), options_.grad_clip > 0 ? options_.grad_clip : 1e30);
  optimizer_->step();
  {
    torch::NoGradGuard no_grad;
    model_->logit_scale.clamp_(0, std::log(100.0));
  }
  stats.loss = loss.item<double>();
  stats.logit_scale = model_->logit_scale.exp().item<double>();
  ++step_;
  return stats;
}

}  // namespace ovseg
