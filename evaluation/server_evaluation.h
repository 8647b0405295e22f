// Evaluation against a live server, as `ovseg-eval ... --server H:P` runs it: every image
// of the ground truth goes to Segmentation.Segment with the dataset's whole vocabulary
// (category names, synonyms after commas, thing/stuff flags), and the replies are scored
// with the same code as prediction files. Panoptic replies can also be written out in
// COCO panoptic format (--pred-out-dir), so the numbers can be re-scored or compared.
#ifndef OVSEG_EVALUATION_SERVER_EVALUATION_H_
#define OVSEG_EVALUATION_SERVER_EVALUATION_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/progress.h"
#include "evaluation/panoptic_quality.h"
#include "evaluation/semantic_metrics.h"

namespace ovseg {

struct ServerEvalOptions {
  std::string server;   // host:port
  int concurrency = 4;  // requests in flight
  absl::Duration timeout = absl::Seconds(120);
  // TLS: the PEMs --tls-ca, --tls-cert and --tls-key name (client/client_tls.h); empty:
  // plaintext.
  std::string tls_root_certs, tls_cert_chain, tls_private_key;
  float score_threshold = 0.0f;  // every segment the model keeps counts
  std::string pred_out_dir;      // panoptic: also write predictions here (PNGs + pred.json)
  // Panoptic thresholds sent with every request (SegmentOptions); unset: the server's.
  std::optional<float> object_mask_threshold, overlap_threshold;
};

// gt_json/gt_dir: COCO panoptic ground truth; image_dir: the RGB images it names.
absl::StatusOr<PanopticQuality> EvaluatePanopticOnServer(const std::string& gt_json,
                                                         const std::string& gt_dir,
                                                         const std::string& image_dir,
                                                         const ServerEvalOptions& options,
                                                         Progress* progress = nullptr);

// categories_json: a COCO JSON whose categories, in order, are label indices 0..N-1;
// gt_dir: label PNGs named like the images in image_dir (stem + .png); ignore_label < 0:
// by their bit depth (255 or 65535).
absl::StatusOr<SemanticMetrics> EvaluateSemanticOnServer(
    const std::string& categories_json, const std::string& image_dir, const std::string& gt_dir,
    int ignore_label, const ServerEvalOptions& options, Progress* progress = nullptr);

}  // namespace ovseg

#endif  // OVSEG_EVALUATION_SERVER_EVALUATION_H_
