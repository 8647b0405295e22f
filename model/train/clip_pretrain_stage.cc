// The "clip_pretrain" stage: a small CLIP trained from scratch on an image-caption corpus
// (worlds such as the synthetic one have no public CLIP). Images are resized to the
// model's square input (bilinear, antialiased), half of them flipped; captions are
// tokenised with CLIP's BPE to the model's context length.
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/progress.h"
#include "datasets/augmentation.h"
#include "datasets/caption_dataset.h"
#include "datasets/data_loader.h"
#include "datasets/seed_mixing.h"
#include "model/clip/clip_preprocess.h"
#include "model/clip/clip_tokenizer.h"
#include "model/runtime/torch_runtime.h"
#include "model/train/clip_pretrainer.h"
#include "model/train/train_stages.h"
#include "model/weights/safetensors_file.h"

namespace ovseg {
namespace {

namespace F = torch::nn::functional;

ClipConfig PretrainClipConfig(const v1::ClipPretrainConfig& p) {
  ClipConfig c;
  c.vision.width = p.vision_width();
  c.vision.layers = p.vision_layers();
  c.vision.heads = p.vision_width() / 64;
  c.vision.patch_size = p.patch_size();
  c.vision.image_size = p.image_size();
  c.text.width = p.text_width();
  c.text.layers = p.text_layers();
  c.text.heads = p.text_width() / 64;
  c.text.context_length = p.context_length();
  c.text.vocab_size = ClipTokenizer::kEndOfText + 1;  // the whole BPE vocabulary
  c.embed_dim = p.embed_dim();
  c.quick_gelu = false;  // GELU, as OpenCLIP trains
  return c;
}

// [3, S, S] CLIP-normalised.
torch::Tensor PretrainPixels(const Sample& s, int64_t size) {
  torch::Tensor x = ClipNormalize(s.rgb.data(), s.width, s.height);
  if (x.size(2) != size || x.size(3) != size) {
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{size, size})
                              .mode(torch::kBilinear)
                              .align_corners(false)
                              .antialias(true));
  }
  return x[0];
}

// [N, context] int64 token ids of `texts` (N may be 0).
torch::Tensor TokenIds(const ClipTokenizer& tokenizer, const std::vector<std::string>& texts,
                       int64_t context) {
  torch::Tensor ids = torch::zeros({static_cast<int64_t>(texts.size()), context}, torch::kLong);
  auto rows = ids.accessor<int64_t, 2>();
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::vector<int> tokens = tokenizer.Tokenize(texts[i], static_cast<int>(context));
    for (size_t t = 0; t < tokens.size(); ++t) rows[i][t] = tokens[t];
  }
  return ids;
}

}  // namespace

absl::Status RunClipPretrainStage(const v1::TrainConfig& config, DataParallel& dp,
                                  v1::ModelConfig* model) {
  const v1::ClipPretrainConfig& p = config.clip_pretrain();
  const std::string out = (std::filesystem::path(config.out_dir()) / "clip.safetensors").string();
  auto hand_over = [&] {
    model->set_clip_weights(out);
    model->set_clip_format("openai");
    model->set_clip_quick_gelu(false);
  };
  if (config.resume() && std::filesystem::exists(out)) {
    std::cerr << "ovseg-train: clip_pretrain: " << out << " exists, stage done\n";
    hand_over();
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<Dataset>> corpus =
      OpenCaptionDataset(p.captions_json(), p.images());
  if (!corpus.ok()) return corpus.status();
  absl::StatusOr<std::string> device_name = ResolveDevice(model->device());
  if (!device_name.ok()) return device_name.status();
  const torch::Device device(*device_name);
  torch::manual_seed(config.seed());
  ClipModel clip(PretrainClipConfig(p));
  InitializeClipForTraining(clip);
  clip->to(device);
  ClipPretrainOptions options;
  options.lr = p.lr();
  options.weight_decay = p.weight_decay();
  options.warmup_steps = static_cast<int64_t>(p.warmup_steps());
  options.total_steps = static_cast<int64_t>(p.steps());
  options.grad_clip = p.grad_clip();
  options.autocast_bf16 = config.autocast() == "bf16";
  options.data_parallel = &dp;
  dp.Broadcast(clip->parameters());
  ClipPretrainer trainer(clip, options);
  std::cerr << "ovseg-train: clip_pretrain: " << (*corpus)->size() << " captioned images, "
            << p.steps() << " steps of " << p.batch_size() << " on " << *device_name << ", "
            << p.hard_negatives() << " hard negatives per image\n";

  LoaderOptions loader_options;
  loader_options.threads = static_cast<int>(config.data().loader_threads());
  loader_options.prefetch =
      static_cast<int>(std::max<uint32_t>(config.data().prefetch(), p.batch_size()));
  loader_options.seed = MixSeed(config.seed(), 0xC11F);
  loader_options.epochs = 1 << 20;
  ShardLoader(dp, p.batch_size(), &loader_options);
  // Half the images flipped, decided by each position's augmentation seed.
  DataLoader loader(**corpus, loader_options, [](const Sample& s, uint64_t seed) {
    return (MixSeed(seed, 1) & 1) != 0 ? HorizontalFlip(s) : s;
  });
  const ClipTokenizer& tokenizer = ClipTokenizer::Default();
  const int64_t context = p.context_length(), size = p.image_size();
  TrainLog log(config.out_dir(), dp);
  std::unique_ptr<Progress> progress =
      ChiefProgress(dp, "ovseg-train clip_pretrain", static_cast<int64_t>(p.steps()));
  const absl::Time start = absl::Now();
  uint64_t drawn = 0;
  for (uint64_t step = 0; step < p.steps(); ++step) {
    std::vector<torch::Tensor> images;
    std::vector<std::string> captions, negatives;
    while (images.size() < p.batch_size()) {
      std::optional<Sample> s = loader.Next();
      if (!s) return absl::DataLossError("clip_pretrain: the caption corpus ran dry");
      captions.push_back(s->caption);
      for (size_t k = 0; k < s->negative_captions.size() && k < p.hard_negatives(); ++k) {
        negatives.push_back(s->negative_captions[k]);
      }
      images.push_back(PretrainPixels(*s, size));
      drawn += dp.world_size();
    }
    // A negative written exactly as some image's own caption is no negative for it.
    torch::Tensor excluded = torch::zeros(
        {static_cast<int64_t>(captions.size()), static_cast<int64_t>(negatives.size())},
        torch::kBool);
    for (size_t i = 0; i < captions.size(); ++i) {
      for (size_t n = 0; n < negatives.size(); ++n) {
        if (captions[i] == negatives[n]) excluded[i][n] = true;
      }
    }
    ClipStepStats stats = trainer.Step(
        torch::stack(images).to(device), TokenIds(tokenizer, captions, context).to(device),
        TokenIds(tokenizer, negatives, context).to(device), excluded.to(device));
    const std::vector<double> mean =
        dp.Mean({stats.loss, stats.accuracy, stats.hard_negative_accuracy});
    stats.loss = mean[0];
    stats.accuracy = mean[1];
    stats.hard_negative_accuracy = mean[2];
    const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
    log.Write({{"stage", "clip_pretrain"},
               {"step", trainer.step()},
               {"loss", stats.loss},
               {"accuracy", stats.accuracy},
               {"hard_negative_accuracy", stats.hard_negative_accuracy},
               {"logit_scale", stats.logit_scale},
               {"lr", stats.lr},
               {"grad_norm", stats.grad_norm},
               {"images_per_second", static_cast<double>(drawn) / std::max(elapsed, 1e-9)},
               {"elapsed_seconds", elapsed}});
    if (progress)
      progress->Advance(1, absl::StrFormat("loss %.3f acc %.2f neg %.2f", stats.loss,
                                           stats.accuracy, stats.hard_negative_accuracy));
  }
  if (progress) progress->Finish();

  // The chief writes; the others read its file in the next stage.
  const absl::Status written = dp.ChiefWrites([&] {
    const torch::ScalarType storage = p.storage() == "fp16" ? torch::kFloat16 : torch::kFloat32;
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    for (const auto& t : clip->named_parameters()) {
      tensors.emplace_back(t.key(), t.value().detach().to(torch::kCPU, storage));
    }
    const std::map<std::string, std::string> metadata = {
        {"format", "openai-clip"},
        {"activation", "gelu"},
        {"trained_by", "ovseg-train clip_pretrain"},
        {"steps", std::to_string(p.steps())},
        {"seed", std::to_string(config.seed())}};
    absl::Status s = WriteSafetensors(out, tensors, metadata);
    if (s.ok()) std::cerr << "ovseg-train: clip_pretrain: wrote " << out << "\n";
    return s;
  });
  if (!written.ok()) return written;
  hand_over();
  return absl::OkStatus();
}

}  // namespace ovseg
