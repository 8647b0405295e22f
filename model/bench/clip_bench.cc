// Benchmark (not a test): CLIP ViT-B/16 image encoder images/s at 224 and 448 in fp32 and
// bf16, text-encoder time for ADE-847 x 14 ViLD templates, each with achieved GFLOP/s
// beside the machine's measured fp32 and bf16 matmul GFLOP/s (the physical limit here).
// Random weights, real shapes. docs/benchmarks.md records the figures.
//   build/bench/clip_bench [--threads N] [--vocabulary ade847.json]
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/bench/model_benches.h"
#include "model/clip/clip_model.h"
#include "model/clip/clip_text_encoder.h"
#include "model/clip/clip_tokenizer.h"
#include "model/clip/prompt_templates.h"

namespace ovseg {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Best of `reps` timings of fn() after one warm-up call.
template <typename Fn>
double BestSeconds(int reps, Fn fn) {
  fn();
  double best = 1e300;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = Clock::now();
    fn();
    best = std::min(best, Seconds(t0, Clock::now()));
  }
  return best;
}

double MatmulGflops(torch::ScalarType dtype) {
  const int64_t n = 2048;
  const torch::Tensor a = torch::randn({n, n}).to(dtype), b = torch::randn({n, n}).to(dtype);
  torch::InferenceMode guard;
  const double s = BestSeconds(5, [&] { torch::mm(a, b); });
  return 2.0 * n * n * n / s / 1e9;
}

ClipConfig VitB16() {
  ClipConfig c;
  c.vision = {768, 12, 12, 16, 224};
  c.text = {512, 12, 8, 77, 49408};
  c.embed_dim = 512;
  c.quick_gelu = true;
  c.interpolation = PosEmbedInterpolation::kBilinear;
  return c;
}

// Multiply-adds x 2 of one ViT forward over n tokens (patch embedding, blocks, projection).
double VisionFlops(const ClipConfig& c, int64_t side) {
  const double grid = side / c.vision.patch_size, n = grid * grid + 1, w = c.vision.width;
  const double patch = grid * grid * 3.0 * c.vision.patch_size * c.vision.patch_size * w;
  const double block = 12.0 * n * w * w + 2.0 * n * n * w;
  return 2.0 * (patch + c.vision.layers * block + w * c.embed_dim);
}

double TextFlops(const ClipConfig& c, int64_t tokens_per_prompt, int64_t prompts) {
  const double l = tokens_per_prompt, w = c.text.width;
  const double block = 12.0 * l * w * w + 2.0 * l * l * w;
  return 2.0 * prompts * (c.text.layers * block + w * c.embed_dim);
}

std::vector<std::string> LoadLabels(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::vector<std::string> labels;
  for (const auto& v : nlohmann::json::parse(in)) labels.push_back(v.get<std::string>());
  return labels;
}

}  // namespace

int RunClipBench(int argc, char** argv) {
  int threads = 2;
  std::string vocabulary = std::string(OVSEG_SOURCE_DIR) + "/../shared/vocabularies/ade847.json";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--threads") threads = std::atoi(argv[i + 1]);
    if (std::string(argv[i]) == "--vocabulary") vocabulary = argv[i + 1];
  }
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  std::printf("LibTorch %s, %d threads\n", TORCH_VERSION, torch::get_num_threads());
  const double mm32 = MatmulGflops(torch::kFloat32), mm16 = MatmulGflops(torch::kBFloat16);
  std::printf("matmul 2048^3: fp32 %.0f GFLOP/s, bf16 %.0f GFLOP/s\n\n", mm32, mm16);

  const ClipConfig config = VitB16();
  for (torch::ScalarType dtype : {torch::kFloat32, torch::kBFloat16}) {
    ClipModel model(config);
    model->eval();
    model->to(dtype);
    const double limit = dtype == torch::kFloat32 ? mm32 : mm16;
    const char* name = dtype == torch::kFloat32 ? "fp32" : "bf16";
    for (int64_t side : {224, 448}) {
      for (int64_t batch : {1, 4}) {
        const torch::Tensor images = torch::randn({batch, 3, side, side}).to(dtype);
        torch::InferenceMode guard;
        const double s = BestSeconds(3, [&] { model->EncodeImage(images); });
        const double gflops = VisionFlops(config, side) * batch / s / 1e9;
        std::printf(
            "image encoder ViT-B/16 %s %3lldx%-3lld batch %lld: %7.2f images/s  %6.0f GFLOP/s"
            "  (%.0f%% of %s matmul)\n",
            name, static_cast<long long>(side), static_cast<long long>(side),
            static_cast<long long>(batch), batch / s, gflops, 100.0 * gflops / limit, name);
      }
    }
  }

  std::vector<std::string> labels = LoadLabels(vocabulary);
  if (labels.empty()) {
    std::printf("\n(text encoder skipped: no vocabulary at %s; pass --vocabulary)\n",
                vocabulary.c_str());
    return 0;
  }
  const std::vector<std::string> templates = *PromptTemplateSet("vild");
  std::vector<std::string> prompts;
  int64_t tokens = 0;
  for (const std::string& label : labels) {
    for (const std::string& t : templates) {
      prompts.push_back(FillTemplate(t, label));
      tokens += static_cast<int64_t>(ClipTokenizer::Default().Tokenize(prompts.back()).size());
    }
  }
  std::printf("\ntext encoder: %zu labels x %zu templates = %zu prompts, mean %.1f tokens\n",
              labels.size(), templates.size(), prompts.size(),
              static_cast<double>(tokens) / prompts.size());
  for (torch::ScalarType dtype : {torch::kFloat32, torch::kBFloat16}) {
    ClipModel model(config);
    model->eval();
    model->to(dtype);
    ClipTextEncoder encoder(model, ClipTokenizer::Default(), 256);
    const auto t0 = Clock::now();
    absl::StatusOr<std::vector<float>> out = encoder.Encode(prompts);
    const double s = Seconds(t0, Clock::now());
    if (!out.ok()) return std::fprintf(stderr, "%s\n", out.status().ToString().c_str()), 1;
    const double mean_tokens = static_cast<double>(tokens) / prompts.size();
    const double gflops = TextFlops(config, static_cast<int64_t>(mean_tokens + 0.5),
                                    static_cast<int64_t>(prompts.size())) /
                          s / 1e9;
    const char* name = dtype == torch::kFloat32 ? "fp32" : "bf16";
    std::printf("text encoder %s: %.2f s (%.0f prompts/s, ~%.0f GFLOP/s, %.0f%% of %s matmul)\n",
                name, s, prompts.size() / s, gflops,
                100.0 * gflops / (dtype == torch::kFloat32 ? mm32 : mm16), name);
  }
  return 0;
}

}  // namespace ovseg
