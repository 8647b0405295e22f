// Benchmark (not a test): the FGAseg dense head's inference time (CLIP not included:
// random dense features and guidance of ViT-B/16 shapes, random weights, default config)
// vs vocabulary size (150, 847), Top-K (1, 8, all) and input size (384 -> 24x24 grid,
// 640 -> 40x40), fp32 and bf16, batch 1, 2 threads. Also prints how many classes went
// through the whole decoder. FGAseg's Table VI is the reference for the trend.
//   build/bench/fgaseg_bench [--reps 1] [--classes 150,847] [--inputs 384,640]
//                            [--topk 1,8,0] [--precisions fp32,bf16] [--threads 2]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "model/bench/model_benches.h"
#include "model/fgaseg/fgaseg_head.h"
#include "server/common/process_tuning.h"

namespace ovseg {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<int64_t> Ints(const std::string& s) {
  std::vector<int64_t> out;
  for (absl::string_view part : absl::StrSplit(s, ','))
    out.push_back(std::stoll(std::string(part)));
  return out;
}

}  // namespace

int RunFgaSegBench(int argc, char** argv) {
  int reps = 1, threads = 2;
  std::vector<int64_t> classes = {150, 847}, inputs = {384, 640}, topks = {1, 8, 0};
  std::vector<std::string> precisions = {"fp32", "bf16"};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--reps")
      reps = std::stoi(value);
    else if (flag == "--threads")
      threads = std::stoi(value);
    else if (flag == "--classes")
      classes = Ints(value);
    else if (flag == "--inputs")
      inputs = Ints(value);
    else if (flag == "--topk")
      topks = Ints(value);
    else if (flag == "--precisions")
      precisions = absl::StrSplit(value, ',');
    else
      return std::fprintf(stderr, "unknown flag %s\n", flag.c_str()), 2;
  }
  ApplyServingProcessTuning();  // As the server: measure what production runs.
  torch::set_num_threads(threads);
  torch::InferenceMode inference;
  std::printf("FGAseg head (ViT-B/16 shapes), batch 1, %d threads, best of %d after a warm-up\n",
              threads, reps);
  std::printf("%-6s %-6s %-8s %-5s %9s %6s\n", "input", "dtype", "classes", "topk", "seconds",
              "kept");
  for (const std::string& precision : precisions) {
    const torch::ScalarType dtype = precision == "bf16" ? torch::kBFloat16 : torch::kFloat32;
    for (int64_t input : inputs) {
      const int64_t grid = input / 16;
      for (int64_t t : classes) {
        for (int64_t k : topks) {
          torch::manual_seed(0);
          FgaSegConfig config;
          config.top_k = k;
          FgaSegHead head(config);
          head->eval();
          head->to(dtype);
          FgaSegInputs in;
          in.dense = torch::randn({1, config.embed_dim, grid, grid}).to(dtype);
          in.guidance = {torch::randn({1, config.clip_width, grid, grid}).to(dtype),
                         torch::randn({1, config.clip_width, grid, grid}).to(dtype)};
          in.classes = torch::nn::functional::normalize(
                           torch::randn({1, t, config.embed_dim}),
                           torch::nn::functional::NormalizeFuncOptions().dim(-1))
                           .to(dtype);
          in.class_valid = torch::ones({1, t}, torch::kBool);
          double best = 1e300;
          int64_t kept = 0;
          for (int rep = 0; rep < reps + 1; ++rep) {
            const auto start = Clock::now();
            const FgaSegOutputs out = head->forward(in);
            const double s = std::chrono::duration<double>(Clock::now() - start).count();
            kept = out.kept.sum().item<int64_t>();
            if (rep > 0) best = std::min(best, s);
          }
          std::printf("%-6ld %-6s %-8ld %-5s %9.3f %6ld\n", static_cast<long>(input),
                      precision.c_str(), static_cast<long>(t),
                      k == 0 ? "all" : std::to_string(k).c_str(), best, static_cast<long>(kept));
          std::fflush(stdout);
        }
      }
    }
  }
  return 0;
}

}  // namespace ovseg
