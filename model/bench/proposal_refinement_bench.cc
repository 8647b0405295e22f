// Benchmark (not a test): what the serving pipeline's proposal refinement costs per image
// (model/serving/guided_mask_filter.h, model/serving/proposal_split.h): the guided filter
// and the split into pieces over N full-size proposals, at the demo's bucket (384 x 320)
// and at 640 x 480, fp32 on the CPU. Proposals are discs and rings on a random image, so
// that some have several pieces. docs/benchmarks.md records the figures.
//   build/bench/proposal_refinement_bench [--reps 5] [--threads 2] [--radius 28]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "model/bench/model_benches.h"
#include "model/serving/guided_mask_filter.h"
#include "model/serving/proposal_split.h"

namespace ovseg {
namespace {

using Clock = std::chrono::steady_clock;

// [n, height, width] logits: proposal i a disc, every third one with a second disc apart.
torch::Tensor DiscProposals(int64_t n, int64_t height, int64_t width) {
  const torch::Tensor y = torch::arange(height).to(torch::kFloat32).view({height, 1});
  const torch::Tensor x = torch::arange(width).to(torch::kFloat32).view({1, width});
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < n; ++i) {
    const float cy = static_cast<float>((i * 37) % height),
                cx = static_cast<float>((i * 53) % width);
    const float r = 8.0f + static_cast<float>(i % 5) * 6.0f;
    torch::Tensor d = r - ((y - cy).pow(2) + (x - cx).pow(2)).sqrt();
    if (i % 3 == 0) {
      d = torch::maximum(d, r - ((y - height + cy).pow(2) + (x - width + cx).pow(2)).sqrt());
    }
    out.push_back(d.unsqueeze(0));
  }
  return torch::cat(out, 0);
}

template <typename F>
double RefinementSeconds(int reps, F&& f) {
  f();  // warm-up
  double best = 1e300;
  for (int rep = 0; rep < reps; ++rep) {
    const auto t0 = Clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

}  // namespace

int RunProposalRefinementBench(int argc, char** argv) {
  int reps = 5, threads = 2;
  int64_t radius = 28;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--reps") reps = std::atoi(argv[i + 1]);
    if (std::string(argv[i]) == "--threads") threads = std::atoi(argv[i + 1]);
    if (std::string(argv[i]) == "--radius") radius = std::atoll(argv[i + 1]);
  }
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  torch::InferenceMode inference;
  std::printf("proposal refinement, fp32, %d threads, best of %d after a warm-up, radius %lld\n",
              torch::get_num_threads(), reps, static_cast<long long>(radius));
  std::printf("%-10s %9s %16s %14s %12s\n", "input", "proposals", "guided filter ms", "split ms",
              "pieces out");
  for (const auto& [width, height] : {std::pair<int64_t, int64_t>{384, 320}, {640, 480}}) {
    const torch::Tensor image = torch::randint(0, 256, {height * width * 3}, torch::kUInt8);
    for (int64_t n : {50, 100}) {
      const torch::Tensor logits = DiscProposals(n, height, width);
      const torch::Tensor objectness = torch::linspace(1.0, 0.1, n);
      const double filter = RefinementSeconds(reps, [&] {
        GuidedFilterMaskLogits(image.data_ptr<uint8_t>(), height, width, logits, radius, 1e-3);
      });
      int64_t pieces = 0;
      const double split = RefinementSeconds(reps, [&] {
        pieces = SplitProposalPieces(logits, objectness, 0.2, 1000).logits.size(0);
      });
      std::printf("%4lldx%-5lld %9lld %16.1f %14.1f %12lld\n", static_cast<long long>(width),
                  static_cast<long long>(height), static_cast<long long>(n), filter * 1e3,
                  split * 1e3, static_cast<long long>(pieces));
    }
  }
  return 0;
}

}  // namespace ovseg
