// What the live-server evaluations share: a Segment request for one image file with a
// dataset's whole vocabulary, and the reply read back as a COCO panoptic image, a label
// map or binary masks at the image's size. Every malformed reply is a DataLossError
// naming the image.
#ifndef OVSEG_EVALUATION_SERVER_REPLIES_H_
#define OVSEG_EVALUATION_SERVER_REPLIES_H_

#include <cstdint>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "client/ovseg_client.h"
#include "datasets/coco_panoptic.h"
#include "evaluation/server_evaluation.h"
#include "ovseg/v1/segmentation.pb.h"

namespace ovseg {

OvsegClient MakeEvalClient(const ServerEvalOptions& options);

// A request for `image_path` (read here) with every category as a label (name, then
// synonyms, comma-separated; thing flag), masks as PNG, score_threshold from `options`,
// a semantic map for SEMANTIC.
absl::StatusOr<v1::SegmentRequest> EvalRequest(const std::string& image_path,
                                               const std::vector<CocoCategory>& categories,
                                               v1::Task task, const ServerEvalOptions& options);

// One annotated image of a COCO panoptic ground truth: its segments and the RGB file's path.
struct GroundTruthImage {
  PanopticImage truth;
  std::string image_path;
};
// `images` maps image_id to its entry in `gt_json`'s images (an absent id is an error
// naming the file and the id).
absl::StatusOr<GroundTruthImage> ReadGroundTruthImage(
    const std::string& gt_json, const std::string& gt_dir, const std::string& image_dir,
    const absl::flat_hash_map<int64_t, const CocoImageInfo*>& images,
    const CocoPanopticAnnotation& annotation);

// Sends it; a failure names the image.
absl::StatusOr<v1::SegmentResponse> SendEvalRequest(OvsegClient& client,
                                                    const std::string& image_path,
                                                    const v1::SegmentRequest& request);

// A single-channel PNG of exactly width x height (8- or 16-bit).
absl::StatusOr<cv::Mat> DecodeReplyPng(const std::string& png, int width, int height,
                                       const std::string& where);

// A PANOPTIC reply as a panoptic image named `name`: later segments win overlapping
// pixels, category ids from `categories` by label_index, invisible segments dropped.
absl::StatusOr<PanopticImage> PanopticFromReply(const v1::SegmentResponse& reply,
                                                const std::vector<CocoCategory>& categories,
                                                int width, int height, const std::string& name,
                                                const std::string& where);

// A SEMANTIC reply's map as label indices, SemanticMetrics::kNoPrediction where unlabelled.
absl::StatusOr<std::vector<int32_t>> LabelIndicesFromReply(const v1::SegmentResponse& reply,
                                                           int width, int height,
                                                           const std::string& where);

// Each segment's mask as 0/1 bytes, in reply order.
absl::StatusOr<std::vector<std::vector<uint8_t>>> MasksFromReply(const v1::SegmentResponse& reply,
                                                                 int width, int height,
                                                                 const std::string& where);

}  // namespace ovseg

#endif  // OVSEG_EVALUATION_SERVER_REPLIES_H_
