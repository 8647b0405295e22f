// A random CLIP with the real 49408-token vocabulary (so labels tokenize), 64 wide, two
// blocks, written as OpenAI-layout safetensors: the base model of server tests that run
// real LibTorch code on tiny weights. Deterministic (seeded), so every call writes the
// same file and checkpoints can name its fingerprint.
#ifndef OVSEG_TESTS_FAKES_TINY_CLIP_FILE_H_
#define OVSEG_TESTS_FAKES_TINY_CLIP_FILE_H_

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "model/clip/clip_model.h"
#include "model/weights/safetensors_file.h"

namespace ovseg::testing {

inline std::string WriteTinyClip() {
  torch::manual_seed(5);
  ClipConfig c;
  c.vision = {64, 2, 1, 16, 64};
  c.text = {64, 2, 1, 77, 49408};
  c.embed_dim = 32;
  ClipModel model(c);
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& p : model->named_parameters()) tensors.push_back({p.key(), p.value()});
  const std::string path = ::testing::TempDir() + "/tiny_clip_full_vocab.safetensors";
  EXPECT_TRUE(WriteSafetensors(path, tensors).ok());
  return path;
}

}  // namespace ovseg::testing

#endif  // OVSEG_TESTS_FAKES_TINY_CLIP_FILE_H_
