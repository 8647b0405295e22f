// Connected components of a binary mask: what a masked crop should show, and where one
// generated proposal draws several separate objects.
//
// A generated proposal often carries a few stray pixels far from its object (a corner of
// a neighbour, a fleck of texture). The masked crop is the square around the mask's
// bounding box, so a fleck 30 pixels away shrinks the object in its crop and adds a
// second silhouette; the demo CLIP, which reads shape from the silhouette, then names
// the wrong shape (docs/results.md, "Stray pixels in the crops": a square whose proposal
// matched it at IoU 0.97 was named "star"). Keeping the mask's main components removes
// them and leaves an object that is split in two large parts whole. The same labelling
// splits a proposal that covers two look-alike things apart (model/serving/proposal_split.h).
//
// Pure CPU code on caller-owned buffers; stateless and thread-compatible.
#ifndef OVSEG_MODEL_TEVA_MASK_COMPONENTS_H_
#define OVSEG_MODEL_TEVA_MASK_COMPONENTS_H_

#include <cstdint>
#include <vector>

namespace ovseg {

// The 8-connected components of `mask` (height x width bytes, row-major, non-zero =
// inside). Returns one label per pixel: 0 outside, else 1 + the component's index in
// `sizes`, which gets each component's pixel count, in raster order of their first pixel.
std::vector<int32_t> LabelComponents(const uint8_t* mask, int64_t height, int64_t width,
                                     std::vector<int64_t>* sizes);

// Clears every 8-connected component of `mask` whose pixel count is below `min_fraction` x
// the largest component's (0 keeps everything, 1 keeps the largest and any of equal size).
// Returns the pixels kept.
int64_t KeepMainComponents(uint8_t* mask, int64_t height, int64_t width, double min_fraction);

}  // namespace ovseg

#endif  // OVSEG_MODEL_TEVA_MASK_COMPONENTS_H_
