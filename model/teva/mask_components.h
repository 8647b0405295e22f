// Connected components of a binary mask, to keep what a masked crop should show.
//
// A generated proposal often carries a few stray pixels far from its object (a corner of
// a neighbour, a fleck of texture). The masked crop is the square around the mask's
// bounding box, so a fleck 30 pixels away shrinks the object in its crop and adds a
// second silhouette; the demo CLIP, which reads shape from the silhouette, then names
// the wrong shape (docs/results.md, "Stray pixels in the crops": a square whose proposal
// matched it at IoU 0.97 was named "star"). Keeping the mask's main components removes
// them and leaves an object that is split in two large parts whole.
//
// Pure CPU code on a caller-owned buffer; stateless and thread-compatible.
#ifndef OVSEG_MODEL_TEVA_MASK_COMPONENTS_H_
#define OVSEG_MODEL_TEVA_MASK_COMPONENTS_H_

#include <cstdint>

namespace ovseg {

// mask: height x width bytes, row-major, non-zero = inside. Clears every 8-connected
// component whose pixel count is below `min_fraction` x the largest component's (0 keeps
// everything, 1 keeps the largest and any of equal size). Returns the pixels kept.
int64_t KeepMainComponents(uint8_t* mask, int64_t height, int64_t width, double min_fraction);

}  // namespace ovseg

#endif  // OVSEG_MODEL_TEVA_MASK_COMPONENTS_H_
