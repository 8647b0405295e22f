// Turns a pipeline result (masks at the bucket resolution) into reply segments at the
// original image resolution, in the requested mask format.
#ifndef OVSEG_SERVER_ENCODE_RESPONSE_BUILDER_H_
#define OVSEG_SERVER_ENCODE_RESPONSE_BUILDER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "model/api/segmentation_pipeline.h"
#include "ovseg/v1/segmentation.pb.h"

namespace ovseg {

struct ResponseOptions {
  int image_width = 0;  // Original (post-EXIF) resolution.
  int image_height = 0;
  v1::MaskFormat mask_format = v1::COCO_RLE;
  bool semantic_map = false;
  float score_threshold = 0.0f;
  int max_segments = 100;
  std::vector<std::string> label_names;  // Display names, by label index.
};

// Fills response->segments (score-descending, ids from 1) and, when asked,
// semantic_map_png. Segments whose mask vanishes at the original resolution are dropped.
absl::Status BuildResponse(const PipelineResult& result, const ResponseOptions& options,
                           v1::SegmentResponse* response);

}  // namespace ovseg

#endif  // OVSEG_SERVER_ENCODE_RESPONSE_BUILDER_H_
