// The overlay image the CLI writes (`ovseg segment --out`): what a person reads to judge
// a reply. Small images are scaled up by whole factors (masks stay crisp) until the
// shorter side is at least 512 px; each segment is tinted and outlined in its label's
// colour and numbered at its centre of mass; a legend on the right names each number.
// Needs the reply's masks as COCO RLE. Pure apart from writing the file; thread-safe.
#ifndef OVSEG_CLIENT_OVERLAY_IMAGE_H_
#define OVSEG_CLIENT_OVERLAY_IMAGE_H_

#include <string>

#include "absl/status/status.h"
#include "ovseg/v1/segmentation.pb.h"

namespace ovseg {

// `image_bytes`: the encoded image that was sent. Writes a PNG (or what `path`'s
// extension names) to `path`.
absl::Status WriteOverlay(const std::string& image_bytes, const v1::SegmentResponse& response,
                          const std::string& path);

}  // namespace ovseg

#endif  // OVSEG_CLIENT_OVERLAY_IMAGE_H_
