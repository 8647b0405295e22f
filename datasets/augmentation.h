// Augmentation with the masks following the image exactly: the image resamples
// bilinearly, segment ids and labels by nearest neighbour through the same transform,
// padding is VOID (ids 0) and `ignore` (labels), and segments that leave the image are
// dropped (areas and boxes recomputed).
// - Large-scale jitter as FOV-Seg and Mask2Former train (detectron2's ResizeScale +
//   FixedSizeCrop): scale the image to fit crop x s, s ~ U(min_scale, max_scale), keeping
//   its aspect ratio, then take a random crop x crop window, padding where it is smaller
//   (image padding 128, as detectron2).
// - Horizontal flip with probability 0.5.
// - Evaluation: resize so the shorter side is `shorter` (the longer capped at `max_longer`).
#ifndef OVSEG_DATASETS_AUGMENTATION_H_
#define OVSEG_DATASETS_AUGMENTATION_H_

#include <cstdint>

#include "datasets/dataset.h"

namespace ovseg {

struct JitterOptions {
  int crop = 1024;
  double min_scale = 0.1, max_scale = 2.0;
  bool flip = true;
};

Sample LargeScaleJitter(const Sample& sample, const JitterOptions& options, uint64_t seed);
Sample HorizontalFlip(const Sample& sample);
Sample ResizeShorterSide(const Sample& sample, int shorter, int max_longer = 0);

}  // namespace ovseg

#endif  // OVSEG_DATASETS_AUGMENTATION_H_
