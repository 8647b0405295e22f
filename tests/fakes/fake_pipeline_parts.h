// Test doubles for the serving pipeline (model/serving/fovseg_pipeline.h): a fake mask
// generator (N proposals at stride 4, proposal i covering column band i of the image,
// objectness decreasing with i; it records how often and on how many images it was asked)
// and a tiny random mask classifier (seeded: two calls give the same weights).
// Header-only; LibTorch.
#ifndef OVSEG_TESTS_FAKES_FAKE_PIPELINE_PARTS_H_
#define OVSEG_TESTS_FAKES_FAKE_PIPELINE_PARTS_H_

#include <torch/torch.h>

#include <string>
#include <vector>

#include "model/clip/clip_model.h"
#include "model/serving/fovseg_pipeline.h"
#include "model/teva/mask_classifier.h"

namespace ovseg::testing {

class FakeMaskGenerator : public MaskGenerator {
 public:
  explicit FakeMaskGenerator(int n) : n_(n) {}
  std::vector<MaskProposals> Generate(const torch::Tensor& images) override {
    calls_ += 1;
    images_seen_ += images.size(0);
    std::vector<MaskProposals> out;
    const int64_t h = images.size(2) / 4, w = images.size(3) / 4;
    for (int64_t b = 0; b < images.size(0); ++b) {
      torch::Tensor logits = torch::full({n_, h, w}, -8.0f);
      for (int i = 0; i < n_; ++i) logits[i].narrow(1, i * w / n_, w / n_).fill_(8.0f);
      out.push_back({logits, torch::linspace(1.0, 0.1, n_)});
    }
    return out;
  }
  std::string name() const override { return "fake"; }
  int calls_ = 0;
  int64_t images_seen_ = 0;

 private:
  int n_;
};

// A 1-layer, width-64 CLIP vision tower (patch 16 at 64 px, embed 32) under the TeVA
// mask classifier, random weights from seed 2, on the CPU.
inline MaskClassifier TinyClassifier() {
  torch::manual_seed(2);
  ClipConfig c;
  c.vision = {64, 1, 1, 16, 64};
  c.text = {64, 1, 1, 16, 512};
  c.embed_dim = 32;
  ClipModel clip(c);
  return MaskClassifier(clip->visual, 32, MaskClassifierConfig{});
}

}  // namespace ovseg::testing

#endif  // OVSEG_TESTS_FAKES_FAKE_PIPELINE_PARTS_H_
