// Benchmark (not a test): the Mask2Former mask generator's forward (inference: final
// prediction only, masked attention as the reference) for the R50 and Swin-T COCO shapes
// (133 classes, 100 queries; random weights), at 512x512 and 800x1333 (padded to
// 800x1344), fp32 and bf16, batch 1. Prints the median time of the whole forward and of
// its parts (backbone, pixel decoder, transformer decoder). docs/benchmarks.md records
// the figures.
//   build/bench/mask2former_bench [--threads 2] [--reps 3] [--models r50,swin-t]
//                                 [--sizes 512x512,800x1344] [--precisions fp32,bf16]
//   build/bench/mask2former_bench --sampling HxW
//     instead: one pixel-decoder layer's deformable sampling (8 heads, 4 points, 3
//     levels, width 256) at that input size, by each path, fp32 and bf16.
//   build/bench/mask2former_bench --train-tiny STEPS
//     instead: class-agnostic training of the tiny configs (AdamW, batch 4, synthetic
//     shapes, fp32) at 128 and 256 pixels; seconds per step and the loss going down.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "model/bench/model_benches.h"
#include "model/mask2former/deformable_attention.h"
#include "model/mask2former/mask2former_loss.h"
#include "model/mask2former/mask2former_model.h"
#include "tests/fakes/synthetic_shapes.h"

namespace ovseg {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Timing {
  double total, backbone, pixel_decoder, transformer;
};

Timing TimeForward(Mask2Former& model, const torch::Tensor& images, int reps) {
  std::vector<double> total, backbone, pixel, transformer;
  for (int rep = 0; rep < reps + 1; ++rep) {  // rep 0 warms up
    const auto t0 = Clock::now();
    const std::vector<torch::Tensor> features = model->backbone().Features(images);
    const double t_backbone = Since(t0);
    const auto t1 = Clock::now();
    const PixelDecoderOutput pixels = model->pixel_decoder()->forward(features);
    const double t_pixel = Since(t1);
    const auto t2 = Clock::now();
    const std::vector<MaskPrediction> out =
        model->transformer()->forward(pixels.multi_scale, pixels.mask_features, false);
    const double t_transformer = Since(t2);
    if (rep == 0) continue;
    backbone.push_back(t_backbone);
    pixel.push_back(t_pixel);
    transformer.push_back(t_transformer);
    total.push_back(t_backbone + t_pixel + t_transformer);
  }
  return {Median(total), Median(backbone), Median(pixel), Median(transformer)};
}

void TimeSampling(int64_t h, int64_t w, int reps) {
  const LevelShapes shapes = {{h / 32, w / 32}, {h / 16, w / 16}, {h / 8, w / 8}};
  int64_t tokens = 0;
  for (const auto& [lh, lw] : shapes) tokens += lh * lw;
  std::printf("deformable sampling, one layer at %ldx%ld (%ld queries), median of %d\n",
              static_cast<long>(h), static_cast<long>(w), static_cast<long>(tokens), reps);
  const torch::Tensor value = torch::randn({1, tokens, 8, 32});
  const torch::Tensor locations = torch::rand({1, tokens, 8, 3, 4, 2});
  const torch::Tensor weights =
      torch::softmax(torch::randn({1, tokens, 8, 12}), -1).view({1, tokens, 8, 3, 4});
  for (torch::ScalarType dtype : {torch::kFloat32, torch::kBFloat16}) {
    for (const auto& [name, sampling] : {std::pair{"grid_sample", DeformableSampling::kGridSample},
                                         std::pair{"gather", DeformableSampling::kGather},
                                         std::pair{"cpu kernel", DeformableSampling::kCpuKernel}}) {
      const torch::Tensor v = value.to(dtype), l = locations.to(dtype), a = weights.to(dtype);
      std::vector<double> times;
      for (int rep = 0; rep < reps + 1; ++rep) {
        const auto t0 = Clock::now();
        MultiScaleDeformableAttention(v, shapes, l, a, sampling);
        if (rep > 0) times.push_back(Since(t0));
      }
      std::printf("  %-5s %-12s %8.3f s\n", dtype == torch::kFloat32 ? "fp32" : "bf16", name,
                  Median(times));
    }
  }
}

// Trains each tiny config for `steps` steps per size; prints the step time and the loss.
void TrainTiny(int steps) {
  std::printf("tiny configs, class-agnostic training: batch 4, AdamW 1e-3, %d steps, fp32\n",
              steps);
  std::printf("%-40s %5s %10s %10s %10s\n", "config", "size", "s/step", "loss@1", "loss@end");
  for (const char* name : {"tiny-resnet", "tiny-swin"}) {
    for (int64_t size : {128, 256}) {
      torch::manual_seed(5);
      Mask2FormerConfig config = std::string(name) == "tiny-resnet"
                                     ? Mask2FormerConfig::TinyResNet()
                                     : Mask2FormerConfig::TinySwin();
      Mask2Former model(config);
      model->train();
      torch::optim::AdamW optimiser(model->parameters(),
                                    torch::optim::AdamWOptions(1e-3).weight_decay(0.05));
      const auto [images, targets] = testing::SyntheticShapes(4, size);
      Mask2FormerLossOptions options;
      options.num_points = 112 * 112 * size * size / (512 * 512);  // as 12544 at 512
      double first = 0, last = 0;
      const auto start = Clock::now();
      for (int step = 0; step < steps; ++step) {
        optimiser.zero_grad();
        absl::StatusOr<Mask2FormerLosses> loss =
            ComputeMask2FormerLoss(model->forward(images), targets, options);
        if (!loss.ok()) {
          std::fprintf(stderr, "%s\n", loss.status().ToString().c_str());
          return;
        }
        loss->total.backward();
        torch::nn::utils::clip_grad_norm_(model->parameters(), 0.1);
        optimiser.step();
        (step == 0 ? first : last) = loss->total.item<double>();
      }
      std::printf("%-40s %5ld %10.3f %10.2f %10.2f\n", name, static_cast<long>(size),
                  Since(start) / steps, first, last);
      std::fflush(stdout);
    }
  }
}

}  // namespace

int RunMask2FormerBench(int argc, char** argv) {
  int threads = 2, reps = 3;
  std::vector<std::string> models = {"r50", "swin-t"}, precisions = {"fp32", "bf16"};
  std::vector<std::pair<int64_t, int64_t>> sizes = {{512, 512}, {800, 1344}};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--threads") {
      threads = std::stoi(value);
    } else if (flag == "--reps") {
      reps = std::stoi(value);
    } else if (flag == "--models") {
      models = absl::StrSplit(value, ',');
    } else if (flag == "--precisions") {
      precisions = absl::StrSplit(value, ',');
    } else if (flag == "--sampling") {
      torch::set_num_threads(threads);
      torch::InferenceMode guard;
      const std::vector<std::string> hw = absl::StrSplit(value, 'x');
      TimeSampling(std::stoll(hw.at(0)), std::stoll(hw.at(1)), reps);
      return 0;
    } else if (flag == "--train-tiny") {
      torch::set_num_threads(threads);
      TrainTiny(std::stoi(value));
      return 0;
    } else if (flag == "--sizes") {
      sizes.clear();
      for (absl::string_view s : absl::StrSplit(value, ',')) {
        const std::vector<std::string> hw = absl::StrSplit(s, 'x');
        sizes.emplace_back(std::stoll(hw.at(0)), std::stoll(hw.at(1)));
      }
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  torch::set_num_threads(threads);
  torch::InferenceMode inference;
  std::printf("Mask2Former forward, batch 1, %d threads, median of %d (after 1 warm-up)\n", threads,
              reps);
  std::printf("%-7s %-10s %-5s %9s %9s %9s %9s\n", "model", "input", "dtype", "total_s", "backbone",
              "pixeldec", "decoder");
  for (const std::string& name : models) {
    torch::manual_seed(0);
    Mask2FormerConfig config = name == "r50" ? Mask2FormerConfig::ResNet50Coco()
                                             : Mask2FormerConfig::SwinCoco(SwinConfig::Tiny(), 100);
    for (const std::string& precision : precisions) {
      Mask2Former model(config);
      model->eval();
      const torch::ScalarType dtype = precision == "bf16" ? torch::kBFloat16 : torch::kFloat32;
      model->to(dtype);
      for (const auto& [h, w] : sizes) {
        const torch::Tensor images = torch::randn({1, 3, h, w}).to(dtype);
        const Timing t = TimeForward(model, images, reps);
        std::printf("%-7s %4ldx%-5ld %-5s %9.3f %9.3f %9.3f %9.3f\n", name.c_str(),
                    static_cast<long>(h), static_cast<long>(w), precision.c_str(), t.total,
                    t.backbone, t.pixel_decoder, t.transformer);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}

}  // namespace ovseg
