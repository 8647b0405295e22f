// The "generator" stage: class-agnostic Mask2Former trained from scratch on the training
// split's panoptic segments (crowd regions are background), with large-scale jitter. Only
// seen classes are annotated there, so the generator learns "object" from seen classes
// alone, as open-vocabulary generators do. VOID pixels hold unseen objects nobody labelled;
// generator.unannotated_overlap can spare a query that finds one from being taught that it
// is background (Mask2FormerLossOptions::unannotated_overlap; off by default, as measured).
#include <filesystem>
#include <iostream>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/progress.h"
#include "datasets/augmentation.h"
#include "datasets/data_loader.h"
#include "datasets/dataset.h"
#include "datasets/seed_mixing.h"
#include "model/clip/clip_preprocess.h"
#include "model/mask2former/mask2former_weights.h"
#include "model/runtime/torch_runtime.h"
#include "model/train/generator_trainer.h"
#include "model/train/train_stages.h"

namespace ovseg {
namespace {

// VOID pixels are marked with this id before the jitter, whose own padding is id 0: after
// it, they tell unannotated content from padding. No segment has this id.
constexpr uint32_t kUnannotatedId = 0xFFFFFFFFu;

Sample MarkUnannotated(Sample s) {
  for (uint32_t& id : s.ids) {
    if (id == 0) id = kUnannotatedId;
  }
  return s;
}

// The 1/stride grid of `s`'s ids, sampled at the centre of every stride x stride cell
// (stride 1: the ids themselves).
torch::Tensor GridIds(const Sample& s, int64_t stride) {
  const torch::Tensor ids =
      torch::from_blob(const_cast<uint32_t*>(s.ids.data()), {s.height, s.width}, torch::kInt32);
  using torch::indexing::Slice;
  return ids.index({Slice(stride / 2, torch::indexing::None, stride),
                    Slice(stride / 2, torch::indexing::None, stride)});
}

// [H/4, W/4] bool: the unannotated content (kUnannotatedId).
torch::Tensor UnannotatedMask(const Sample& s) {
  return GridIds(s, kMask2FormerMaskStride) == static_cast<int32_t>(kUnannotatedId);
}

// [N, H/stride, W/stride] bool: each non-crowd segment on the 1/stride grid.
torch::Tensor SegmentMasks(const Sample& s, int64_t stride) {
  const torch::Tensor small = GridIds(s, stride);
  std::vector<torch::Tensor> masks;
  for (const PanopticSegment& seg : s.segments) {
    if (seg.iscrowd) continue;
    const torch::Tensor m = small == static_cast<int32_t>(seg.id);
    if (m.any().item<bool>()) masks.push_back(m);
  }
  if (masks.empty()) return torch::zeros({0, small.size(0), small.size(1)}, torch::kBool);
  return torch::stack(masks);
}

}  // namespace

absl::Status RunGeneratorStage(const v1::TrainConfig& config, DataParallel& dp,
                               v1::ModelConfig* model) {
  const v1::GeneratorTrainConfig& g = config.generator();
  const std::string out =
      (std::filesystem::path(config.out_dir()) / "mask2former.safetensors").string();
  Mask2FormerConfig architecture = g.architecture() == "tiny-swin"
                                       ? Mask2FormerConfig::TinySwin()
                                       : Mask2FormerConfig::TinyResNet();
  architecture.pixel_decoder.positions_in_features = g.positions_in_features();
  architecture.pixel_decoder.positions_in_mask_features = g.positions_in_mask_features();
  auto hand_over = [&] {
    model->set_mask_generator_weights(out);
    model->set_mask_generator_heads(static_cast<uint32_t>(architecture.decoder.heads));
  };
  if (config.resume() && std::filesystem::exists(out)) {
    std::cerr << "ovseg-train: generator: " << out << " exists, stage done\n";
    hand_over();
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<Dataset>> dataset =
      OpenCocoPanopticDataset(g.train_json(), g.train_images(), g.train_panoptic());
  if (!dataset.ok()) return dataset.status();
  absl::StatusOr<std::string> device_name = ResolveDevice(model->device());
  if (!device_name.ok()) return device_name.status();
  const torch::Device device(*device_name);
  torch::manual_seed(MixSeed(config.seed(), 0x6E4));
  Mask2Former m2f(architecture);
  m2f->to(device);
  GeneratorTrainOptions options;
  options.lr = g.lr();
  options.weight_decay = g.weight_decay();
  options.warmup_steps = static_cast<int64_t>(g.warmup_steps());
  options.total_steps = static_cast<int64_t>(g.steps());
  options.grad_clip = g.grad_clip();
  options.autocast_bf16 = config.autocast() == "bf16";
  options.target_stride = static_cast<int64_t>(g.mask_target_stride());
  options.data_parallel = &dp;
  options.loss.unannotated_overlap =
      g.has_unannotated_overlap() ? g.unannotated_overlap() : options.loss.unannotated_overlap;
  dp.Broadcast(m2f->parameters());
  // Point count as Mask2Former's 112 x 112 at 512 px, scaled to the crop's area.
  options.loss.num_points =
      std::max<int64_t>(256, 112 * 112 * static_cast<int64_t>(g.crop()) * g.crop() / (512 * 512));
  GeneratorTrainer trainer(m2f, options, MixSeed(config.seed(), 0x9017));
  std::cerr << "ovseg-train: generator: " << architecture.Describe() << ", " << g.steps()
            << " steps of " << g.batch_size() << " at " << g.crop() << " px on " << *device_name
            << "\n";

  LoaderOptions loader_options;
  loader_options.threads = static_cast<int>(config.data().loader_threads());
  loader_options.prefetch = static_cast<int>(config.data().prefetch());
  loader_options.seed = MixSeed(config.seed(), 0x6E5);
  loader_options.epochs = 1 << 20;
  ShardLoader(dp, g.batch_size(), &loader_options);
  JitterOptions jitter;
  jitter.crop = static_cast<int>(g.crop());
  jitter.min_scale = g.min_scale();
  jitter.max_scale = g.max_scale();
  // The unannotated maps cost a copy of every sample's ids: made only when the rule is on.
  const bool unannotated_rule = options.loss.unannotated_overlap <= 1.0;
  DataLoader loader(
      **dataset, loader_options, [jitter, unannotated_rule](const Sample& s, uint64_t seed) {
        return LargeScaleJitter(unannotated_rule ? MarkUnannotated(s) : s, jitter, seed);
      });
  TrainLog log(config.out_dir(), dp);
  std::unique_ptr<Progress> progress =
      ChiefProgress(dp, "ovseg-train generator", static_cast<int64_t>(g.steps()));
  const absl::Time start = absl::Now();
  int64_t images_seen = 0;
  for (uint64_t step = 0; step < g.steps(); ++step) {
    std::vector<torch::Tensor> images, masks, unannotated;
    while (images.size() < g.batch_size()) {
      std::optional<Sample> s = loader.Next();
      if (!s) return absl::DataLossError("generator: the training split ran dry");
      images.push_back(ClipNormalize(s->rgb.data(), s->width, s->height)[0]);
      masks.push_back(SegmentMasks(*s, options.target_stride));
      if (unannotated_rule) unannotated.push_back(UnannotatedMask(*s));
    }
    images_seen += static_cast<int64_t>(images.size()) * dp.world_size();
    absl::StatusOr<GeneratorStepStats> stats =
        trainer.Step(torch::stack(images).to(device), masks, unannotated);
    if (!stats.ok()) return stats.status();
    const std::vector<double> mean =
        dp.Mean({stats->loss, stats->classification, stats->mask_bce, stats->mask_dice});
    stats->loss = mean[0];
    stats->classification = mean[1];
    stats->mask_bce = mean[2];
    stats->mask_dice = mean[3];
    const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
    log.Write({{"stage", "generator"},
               {"step", trainer.step()},
               {"loss", stats->loss},
               {"classification", stats->classification},
               {"mask_bce", stats->mask_bce},
               {"mask_dice", stats->mask_dice},
               {"lr", stats->lr},
               {"grad_norm", stats->grad_norm},
               {"images_per_second", images_seen / std::max(elapsed, 1e-9)},
               {"elapsed_seconds", elapsed}});
    if (progress) progress->Advance(1, absl::StrFormat("loss %.3f", stats->loss));
  }
  if (progress) progress->Finish();
  m2f->eval();
  // The chief writes; the others read its file in the next stage.
  const absl::Status written = dp.ChiefWrites([&] {
    const std::map<std::string, std::string> metadata = {{"architecture", g.architecture()},
                                                         {"trained_by", "ovseg-train generator"},
                                                         {"steps", std::to_string(g.steps())},
                                                         {"seed", std::to_string(config.seed())}};
    absl::Status s = WriteMask2Former(out, m2f, metadata);
    if (s.ok()) std::cerr << "ovseg-train: generator: wrote " << out << "\n";
    return s;
  });
  if (!written.ok()) return written;
  hand_over();
  return absl::OkStatus();
}

}  // namespace ovseg
