// FOV-Seg's stage analysis (Sec. III, Fig. 2a, Table IV(j)) against a live server, as
// `ovseg-eval analyse` runs it: for every ground-truth image of a COCO panoptic dataset,
// with the dataset's whole vocabulary, it asks the server four things and scores them
// (definitions: docs/analysis.md):
// - end to end: PANOPTIC (PQ) and SEMANTIC (mIoU), as `ovseg-eval panoptic|semantic`;
// - oracle mask generator: the ground-truth segments (not crowd) sent as
//   SegmentRequest.regions with task SEMANTIC; each region is named by the label most of
//   its pixels get in the returned map (top-1 region accuracy), and the segments so
//   named are scored (PQ, mIoU): classification alone;
// - oracle classifier: the PANOPTIC reply's masks, each named by the ground-truth segment
//   it overlaps best (evaluation/oracle_predictions.h), scored: mask generation alone;
// - proposal recall: task PROPOSALS (the generator's class-agnostic proposals, best
//   objectness first), AR at IoU 0.5 / 0.75 with 10 / 50 / 100 proposals.
// Every figure is split into all / seen / unseen / things / stuff (category_groups.h).
// Thread-safe to call; runs `concurrency` images at once.
#ifndef OVSEG_EVALUATION_SERVER_ANALYSIS_H_
#define OVSEG_EVALUATION_SERVER_ANALYSIS_H_

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "common/progress.h"
#include "evaluation/server_evaluation.h"
#include "ovseg/v1/segmentation.pb.h"

namespace ovseg {

struct ServerAnalysisOptions {
  ServerEvalOptions server;  // address, requests in flight, timeout, score threshold
  v1::HeadMode head_mode = v1::HEAD_MODE_UNSPECIFIED;  // the server's default
  int max_images = 0;                                  // 0: every image; else the first N
  bool proposals = true;  // false: skip proposal recall (a model without a generator)
};

absl::StatusOr<nlohmann::json> AnalyseOnServer(const std::string& gt_json,
                                               const std::string& gt_dir,
                                               const std::string& image_dir,
                                               const ServerAnalysisOptions& options,
                                               Progress* progress = nullptr);

}  // namespace ovseg

#endif  // OVSEG_EVALUATION_SERVER_ANALYSIS_H_
