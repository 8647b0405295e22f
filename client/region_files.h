// Regions for "classify these regions" requests (SegmentRequest.regions) read from files:
//   *.png   sent as is; nonzero pixels of the first channel are inside.
//   *.json  COCO RLE: one {"size": [h, w], "counts": ...} object, a COCO result object
//           holding it under "segmentation", or an array of either (such as the file
//           `ovseg segment --json` writes, or SAM's COCO-RLE output). Uncompressed
//           counts (an integer array) are compressed here.
#ifndef OVSEG_CLIENT_REGION_FILES_H_
#define OVSEG_CLIENT_REGION_FILES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ovseg/v1/segmentation.pb.h"

namespace ovseg {

// Every region in `paths`, in order. Errors name the file (and the array element).
absl::StatusOr<std::vector<v1::Region>> ReadRegionFiles(const std::vector<std::string>& paths);

// The same for the contents of one JSON file; `source` names it in errors.
absl::StatusOr<std::vector<v1::Region>> ParseRleRegions(const std::string& json,
                                                        const std::string& source);

}  // namespace ovseg

#endif  // OVSEG_CLIENT_REGION_FILES_H_
