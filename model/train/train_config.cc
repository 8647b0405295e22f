#include "model/train/train_config.h"

#include <google/protobuf/text_format.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ovseg {
namespace {

#define OVSEG_DEFAULT(message, field, value) \
  if ((message)->field() == 0) (message)->set_##field(value)

absl::Status Require(const std::string& source, const char* field, const std::string& value) {
  if (!value.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", field, " is required"));
}

absl::Status CheckStages(const std::string& source, const v1::TrainConfig& c) {
  const auto known = std::begin(kTrainStages), end = std::end(kTrainStages);
  auto previous = known - 1;
  for (const std::string& stage : c.stages()) {
    const auto at = std::find(known, end, stage);
    if (at == end) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": stages: unknown stage \"", stage,
                                                     "\" (expected ",
                                                     absl::StrJoin(known, end, ", "), ")"));
    }
    if (at <= previous) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": stages: \"", stage,
          "\" repeated or out of order (order: ", absl::StrJoin(known, end, ", "), ")"));
    }
    previous = at;
  }
  return absl::OkStatus();
}

absl::Status DefaultClipPretrain(const std::string& source, v1::ClipPretrainConfig* p) {
  OVSEG_DEFAULT(p, image_size, 128);
  OVSEG_DEFAULT(p, patch_size, 16);
  OVSEG_DEFAULT(p, vision_width, 128);
  OVSEG_DEFAULT(p, vision_layers, 6);
  OVSEG_DEFAULT(p, text_width, 64);
  OVSEG_DEFAULT(p, text_layers, 4);
  OVSEG_DEFAULT(p, context_length, 32);
  OVSEG_DEFAULT(p, embed_dim, 128);
  OVSEG_DEFAULT(p, steps, 600);
  OVSEG_DEFAULT(p, warmup_steps, std::min<uint64_t>(60, p->steps() / 10));
  OVSEG_DEFAULT(p, batch_size, 128);
  OVSEG_DEFAULT(p, lr, 5e-4);
  OVSEG_DEFAULT(p, weight_decay, 0.1);
  OVSEG_DEFAULT(p, grad_clip, 1.0);
  if (p->storage().empty()) p->set_storage("fp16");
  if (absl::Status s = Require(source, "clip_pretrain.captions_json", p->captions_json()); !s.ok())
    return s;
  if (absl::Status s = Require(source, "clip_pretrain.images", p->images()); !s.ok()) return s;
  if (p->image_size() % p->patch_size() != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": clip_pretrain.image_size ", p->image_size(),
                     " is not a multiple of clip_pretrain.patch_size ", p->patch_size()));
  }
  for (const auto& [field, width] : {std::pair{"clip_pretrain.vision_width", p->vision_width()},
                                     std::pair{"clip_pretrain.text_width", p->text_width()}}) {
    if (width % 64 != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": ", field, " ", width, " is not a multiple of 64 (CLIP's head width)"));
    }
  }
  if (p->context_length() < 3) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": clip_pretrain.context_length must hold start, a word and end"));
  }
  if (p->batch_size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": clip_pretrain.batch_size must be at least 2 (contrastive)"));
  }
  if (p->storage() != "fp16" && p->storage() != "fp32") {
    return absl::InvalidArgumentError(absl::StrCat(source, ": clip_pretrain.storage \"",
                                                   p->storage(), "\": expected fp16 or fp32"));
  }
  return absl::OkStatus();
}

absl::Status DefaultGenerator(const std::string& source, v1::GeneratorTrainConfig* g) {
  if (g->architecture().empty()) g->set_architecture("tiny-resnet");
  OVSEG_DEFAULT(g, crop, 256);
  OVSEG_DEFAULT(g, min_scale, 0.5);
  OVSEG_DEFAULT(g, max_scale, 1.5);
  OVSEG_DEFAULT(g, steps, 2000);
  OVSEG_DEFAULT(g, warmup_steps, std::min<uint64_t>(100, g->steps() / 10));
  OVSEG_DEFAULT(g, batch_size, 4);
  OVSEG_DEFAULT(g, lr, 1e-3);
  OVSEG_DEFAULT(g, weight_decay, 0.05);
  OVSEG_DEFAULT(g, grad_clip, 0.1);
  OVSEG_DEFAULT(g, mask_target_stride, 1);
  if (g->architecture() != "tiny-resnet" && g->architecture() != "tiny-swin") {
    return absl::InvalidArgumentError(absl::StrCat(source, ": generator.architecture \"",
                                                   g->architecture(),
                                                   "\": expected tiny-resnet or tiny-swin"));
  }
  if (g->crop() % 32 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": generator.crop ", g->crop(), " is not a multiple of 32"));
  }
  if (g->mask_target_stride() != 1 && g->mask_target_stride() != 4) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": generator.mask_target_stride ",
                                                   g->mask_target_stride(), ": expected 1 or 4"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string ResolveAutocast(const std::string& autocast, const std::string& device,
                            bool cpu_has_bf16) {
  if (autocast != "auto") return autocast;
  const bool cuda = device.rfind("cuda", 0) == 0;
  return cuda || cpu_has_bf16 ? "bf16" : "fp32";
}

bool CpuHasBf16Instructions() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("flags", 0) != 0) continue;
    const std::string flags = line + " ";
    return flags.find(" avx512_bf16 ") != std::string::npos ||
           flags.find(" amx_bf16 ") != std::string::npos;
  }
  return false;
}

bool HasStage(const v1::TrainConfig& config, const std::string& stage) {
  return std::find(config.stages().begin(), config.stages().end(), stage) != config.stages().end();
}

absl::StatusOr<v1::TrainConfig> ParseTrainConfig(const std::string& text,
                                                 const std::string& source) {
  v1::TrainConfig c;
  if (!google::protobuf::TextFormat::ParseFromString(text, &c)) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not a valid TrainConfig"));
  }
  if (c.stages().empty()) c.add_stages("fovseg");
  if (absl::Status s = CheckStages(source, c); !s.ok()) return s;
  if (c.autocast().empty()) c.set_autocast("fp32");
  if (c.autocast() == "auto") {
    c.set_autocast(ResolveAutocast("auto", c.model().device(), CpuHasBf16Instructions()));
  }
  if (c.autocast() != "fp32" && c.autocast() != "bf16") {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": autocast \"", c.autocast(), "\": expected fp32, bf16 or auto"));
  }
  v1::TrainDataConfig* d = c.mutable_data();
  OVSEG_DEFAULT(d, crop, 256);
  OVSEG_DEFAULT(d, min_scale, 0.1);
  OVSEG_DEFAULT(d, max_scale, 2.0);
  OVSEG_DEFAULT(d, loader_threads, 2);
  OVSEG_DEFAULT(d, prefetch, 8);
  v1::OptimizerConfig* o = c.mutable_optimizer();
  OVSEG_DEFAULT(o, lr, 1e-4);
  OVSEG_DEFAULT(o, weight_decay, 0.05);
  OVSEG_DEFAULT(o, clip_lr_multiplier, 0.1);
  OVSEG_DEFAULT(o, steps, 1000);
  OVSEG_DEFAULT(o, warmup_steps, std::min<uint64_t>(100, o->steps() / 10));
  OVSEG_DEFAULT(o, batch_size, 2);
  OVSEG_DEFAULT(o, grad_accumulation, 1);
  if (!o->has_grad_clip()) o->set_grad_clip(1.0);
  OVSEG_DEFAULT((&c), seed, 1);
  OVSEG_DEFAULT((&c), log_every, 10);
  OVSEG_DEFAULT((&c), distributed_timeout_seconds, 1800);
  if (absl::Status s = Require(source, "out_dir", c.out_dir()); !s.ok()) return s;
  if (HasStage(c, "generator") || HasStage(c, "fovseg")) {
    for (const auto& [field, value] :
         {std::pair<const char*, std::string>{"data.train_json", d->train_json()},
          {"data.train_images", d->train_images()},
          {"data.train_panoptic", d->train_panoptic()}}) {
      if (absl::Status s = Require(source, field, value); !s.ok()) return s;
    }
  }
  if (d->crop() % 32 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": data.crop ", d->crop(), " is not a multiple of 32"));
  }
  if (HasStage(c, "clip_pretrain")) {
    if (absl::Status s = DefaultClipPretrain(source, c.mutable_clip_pretrain()); !s.ok()) return s;
  }
  if (HasStage(c, "generator")) {
    v1::GeneratorTrainConfig* g = c.mutable_generator();
    if (absl::Status s = DefaultGenerator(source, g); !s.ok()) return s;
    const int own_data =
        !g->train_json().empty() + !g->train_images().empty() + !g->train_panoptic().empty();
    if (own_data != 0 && own_data != 3) {
      return absl::InvalidArgumentError(absl::StrCat(
          source,
          ": generator.train_json, train_images and train_panoptic go together: set all three "
          "or none"));
    }
    if (own_data == 0) {
      g->set_train_json(d->train_json());
      g->set_train_images(d->train_images());
      g->set_train_panoptic(d->train_panoptic());
    }
  }
  return c;
}

absl::StatusOr<v1::TrainConfig> LoadTrainConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  return ParseTrainConfig(text, path);
}

}  // namespace ovseg
