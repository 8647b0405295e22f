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

#include "model/bench/model_benches.h"
#include "model/teva/mask_classifier.h"

namespace ovseg {
namespace {

using Clock = std::chrono::steady_clock;

// Seconds (best of `reps`) of the only work in a forward whose size depends on the
// vocabulary once TeVA's keys and values are cached: each block's Mask-Target attention
// over the classes, and the cosine logits against them. Everything else runs the same
// shapes for 150 and 847 classes, so the difference of these two figures is the
// difference of the whole forward, measured without the whole forward's noise.
double VocabularyWorkSeconds(MaskClassifier& classifier, const MaskClassifierInput& in,
                             int64_t proposals, int reps) {
  const auto dtype = classifier->clip->proj.scalar_type();
  const int64_t width = classifier->clip->class_embedding.size(0);
  const torch::Tensor m = torch::randn({1, proposals, width}).to(dtype);
  const torch::Tensor embeddings =
      torch::nn::functional::normalize(torch::randn({1, proposals, in.class_embeddings.size(2)}),
                                       torch::nn::functional::NormalizeFuncOptions().dim(-1));
  double best = 1e300;
  for (int rep = 0; rep < reps + 1; ++rep) {
    const auto t0 = Clock::now();
    for (size_t i = 0; i < classifier->teva->size(); ++i) {
      classifier->teva[i]->as<TevaCrossAttentionImpl>()->Attend(
          m, in.teva_targets->keys[i], in.teva_targets->values[i], in.teva_targets->valid);
    }
    const torch::Tensor classes =
        torch::nn::functional::normalize(in.class_embeddings.to(torch::kFloat32),
                                         torch::nn::functional::NormalizeFuncOptions().dim(-1));
    torch::Tensor logits = torch::matmul(embeddings, classes.transpose(1, 2)) * 100.0;
    logits = logits.masked_fill(~in.class_valid.unsqueeze(1), -1e30);
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (rep > 0) best = std::min(best, seconds);  // rep 0 warms up.
  }
  return best;
}

}  // namespace

int RunClassifierBench(int argc, char** argv) {
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
        if (!cold_teva) {
          const double work150 = VocabularyWorkSeconds(classifier, inputs[0], proposals, 30);
          const double work847 = VocabularyWorkSeconds(classifier, inputs[1], proposals, 30);
          std::printf(
              "     vocabulary-dependent work: 150 classes %.1f ms, 847 classes %.1f ms -> "
              "847 costs %+.1f%% of the 150-class forward\n",
              work150 * 1e3, work847 * 1e3, 100.0 * (work847 - work150) / seconds[0]);
        }
        std::fflush(stdout);
      }
    }
  }
  return 0;
}

}  // namespace ovseg
