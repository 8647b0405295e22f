// Test doubles for the serving pipeline (model/serving/fovseg_pipeline.h): a fake mask
// generator (N proposals at stride 4, proposal i covering column band i of the image,
// objectness decreasing with i; it records how often and on how many images it was asked),
// a one-proposal generator drawn from blocks of cells, a tiny random mask classifier
// (seeded: two calls give the same weights) and a PROPOSALS request.
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

// One proposal drawn as blocks of cells at the generator's stride 4 (cell rows [y0, y1),
// columns [x0, x1) each): +8 inside, -8 outside, the same for every image.
struct CellBlock {
  int64_t y0, y1, x0, x1;
};
class BlocksProposalGenerator : public MaskGenerator {
 public:
  BlocksProposalGenerator(std::vector<CellBlock> blocks, float objectness)
      : blocks_(std::move(blocks)), objectness_(objectness) {}
  std::vector<MaskProposals> Generate(const torch::Tensor& images) override {
    std::vector<MaskProposals> out;
    for (int64_t b = 0; b < images.size(0); ++b) {
      torch::Tensor logits = torch::full({1, images.size(2) / 4, images.size(3) / 4}, -8.0f);
      for (const CellBlock& k : blocks_)
        logits[0].slice(0, k.y0, k.y1).slice(1, k.x0, k.x1).fill_(8.0f);
      out.push_back({logits, torch::full({1}, objectness_)});
    }
    return out;
  }
  std::string name() const override { return "blocks"; }

 private:
  std::vector<CellBlock> blocks_;
  float objectness_;
};

// A PROPOSALS request in MASK mode over `labels` thing labels (one constant embedding of
// 32 dims each), every segment answered. `image` must outlive the request.
inline PipelineRequest ProposalsRequest(const ImageRgb8& image, int labels) {
  PipelineRequest r;
  r.image = &image;
  auto vocabulary = std::make_shared<VocabularyEmbeddings>();
  vocabulary->num_labels = labels;
  vocabulary->dim = 32;
  vocabulary->data.assign(static_cast<size_t>(labels) * 32, 0.1f);
  r.vocabulary = std::move(vocabulary);
  r.is_thing.assign(static_cast<size_t>(labels), true);
  r.task = SegmentTask::kProposals;
  r.head_mode = HeadMode::kMask;
  r.params.score_threshold = 0.0f;
  r.params.max_segments = 100;
  return r;
}

}  // namespace ovseg::testing

#endif  // OVSEG_TESTS_FAKES_FAKE_PIPELINE_PARTS_H_
