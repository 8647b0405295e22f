// Benchmark (not a test): the TeVA mask classifier (CLIP ViT-B/16 image tokens + mask
// tokens + TeVA) vs vocabulary size (150, 847 classes) and proposals (100, 200), fp32 and
// bf16, at 448 and 896 input. Random weights, real shapes; a warm vocabulary: class
// embeddings and TeVA's keys and values come precomputed, as the serving caches
// (VocabularyCache, TevaTargetCache) hand them over. docs/benchmarks.md records the figures.
//   --cold-teva: project TeVA's keys and values in every forward instead (no cache).
//   build/bench/classifier_bench [--threads N] [--sizes 448,896] [--reps 5]
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "model/teva/mask_classifier.h"

namespace ovseg {
namespace {

using Clock = std::chrono::steady_clock;

int Main(int argc, char** argv) {
  int threads = 2, reps = 5;
  bool cold_teva = false;
  std::vector<int64_t> sizes = {448, 896};
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--cold-teva") cold_teva = true;
  }
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--threads") threads = std::atoi(argv[i + 1]);
    if (std::string(argv[i]) == "--reps") reps = std::atoi(argv[i + 1]);
    if (std::string(argv[i]) == "--sizes") {
      sizes.clear();
      for (const char* p = argv[i + 1]; *p;) {
        sizes.push_back(std::strtoll(p, const_cast<char**>(&p), 10));
        if (*p == ',') ++p;
      }
    }
  }
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  ClipConfig c;
  c.vision = {768, 12, 12, 16, 224};
  c.text = {512, 1, 8, 77, 49408};  // The text tower is not used here.
  c.embed_dim = 512;
  c.interpolation = PosEmbedInterpolation::kBilinear;
  std::printf(
      "TeVA mask classifier, ViT-B/16 shapes, %d threads, alternating, best of %d after a "
      "warm-up, TeVA keys/values %s\n",
      torch::get_num_threads(), reps, cold_teva ? "projected per image" : "cached");
  for (torch::ScalarType dtype : {torch::kBFloat16, torch::kFloat32}) {
    ClipModel clip(c);
    MaskClassifier classifier(clip->visual, 512, MaskClassifierConfig{});
    classifier->eval();
    classifier->to(dtype);
    const char* name = dtype == torch::kFloat32 ? "fp32" : "bf16";
    for (int64_t side : sizes) {
      for (int64_t proposals : {100, 200}) {
        // The two vocabularies alternate, best of each kept: this machine's timing noise
        // (±10% between consecutive runs) would otherwise swamp a few-percent difference.
        std::vector<MaskClassifierInput> inputs;
        for (int64_t classes : {150, 847}) {
          MaskClassifierInput in;
          in.images = torch::randn({1, 3, side, side}).to(dtype);
          in.mask_logits = (torch::randn({1, proposals, side / 4, side / 4}) * 4).to(dtype);
          in.proposal_valid = torch::ones({1, proposals}, torch::kBool);
          in.class_embeddings = torch::nn::functional::normalize(
                                    torch::randn({1, classes, 512}),
                                    torch::nn::functional::NormalizeFuncOptions().dim(-1))
                                    .to(dtype);
          in.class_valid = torch::ones({1, classes}, torch::kBool);
          if (!cold_teva) {
            torch::InferenceMode guard;
            in.teva_targets = std::make_shared<const TevaTargets>(
                classifier->ProjectTargets(in.class_embeddings, in.class_valid));
          }
          inputs.push_back(std::move(in));
        }
        torch::InferenceMode guard;
        for (auto& in : inputs) classifier->forward(in);  // Warm-up.
        double seconds[2] = {1e300, 1e300};
        for (int rep = 0; rep < reps; ++rep) {
          for (int k = 0; k < 2; ++k) {
            const auto t0 = Clock::now();
            classifier->forward(inputs[k]);
            seconds[k] =
                std::min(seconds[k], std::chrono::duration<double>(Clock::now() - t0).count());
          }
        }
        std::printf(
            "%s %4lldx%-4lld %3lld proposals: 150 classes %.3f s, 847 classes %.3f s (%+.1f%%)\n",
            name, static_cast<long long>(side), static_cast<long long>(side),
            static_cast<long long>(proposals), seconds[0], seconds[1],
            100.0 * (seconds[1] / seconds[0] - 1.0));
        std::fflush(stdout);
      }
    }
  }
  return 0;
}

}  // namespace
}  // namespace ovseg

int main(int argc, char** argv) { return ovseg::Main(argc, argv); }
