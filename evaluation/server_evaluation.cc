#include "evaluation/server_evaluation.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "client/ovseg_client.h"
#include "datasets/coco_panoptic.h"
#include "datasets/dataset.h"
#include "datasets/label_png.h"
#include "evaluation/parallel_accumulate.h"
#include "evaluation/server_replies.h"

namespace ovseg {

namespace fs = std::filesystem;

absl::StatusOr<PanopticQuality> EvaluatePanopticOnServer(const std::string& gt_json,
                                                         const std::string& gt_dir,
                                                         const std::string& image_dir,
                                                         const ServerEvalOptions& options,
                                                         Progress* progress) {
  absl::StatusOr<CocoPanoptic> gt = ReadCocoPanopticJson(gt_json);
  if (!gt.ok()) return gt.status();
  absl::flat_hash_map<int64_t, const CocoImageInfo*> images;
  for (const CocoImageInfo& m : gt->images) images[m.id] = &m;
  if (!options.pred_out_dir.empty()) {
    std::error_code error;
    fs::create_directories(fs::path(options.pred_out_dir) / "panoptic", error);
    if (error)
      return absl::PermissionDeniedError(absl::StrCat(options.pred_out_dir, ": ", error.message()));
  }
  OvsegClient client = MakeEvalClient(options);
  CocoPanoptic predictions;
  predictions.categories = gt->categories;
  predictions.annotations.resize(gt->annotations.size());
  const std::vector<PanopticCategory> categories = gt->PanopticCategories();
  absl::StatusOr<PanopticQuality> pq = ParallelAccumulate<PanopticQuality>(
      gt->annotations.size(), options.concurrency, [&] { return PanopticQuality(categories); },
      [&](size_t i, PanopticQuality& acc) -> absl::Status {
        const CocoPanopticAnnotation& a = gt->annotations[i];
        absl::StatusOr<GroundTruthImage> loaded =
            ReadGroundTruthImage(gt_json, gt_dir, image_dir, images, a);
        if (!loaded.ok()) return loaded.status();
        const PanopticImage* truth = &loaded->truth;
        const std::string& image_path = loaded->image_path;
        absl::StatusOr<v1::SegmentRequest> request =
            EvalRequest(image_path, gt->categories, v1::PANOPTIC, options);
        if (!request.ok()) return request.status();
        absl::StatusOr<v1::SegmentResponse> reply = SendEvalRequest(client, image_path, *request);
        if (!reply.ok()) return reply.status();
        absl::StatusOr<PanopticImage> pred = PanopticFromReply(
            *reply, gt->categories, truth->width, truth->height, a.file_name, image_path);
        if (!pred.ok()) return pred.status();
        if (!options.pred_out_dir.empty()) {
          const std::string png =
              (fs::path(options.pred_out_dir) / "panoptic" / a.file_name).string();
          if (absl::Status s = WritePanopticPng(png, pred->width, pred->height, pred->ids);
              !s.ok()) {
            return s;
          }
          predictions.annotations[i] = {a.image_id, a.file_name, pred->segments};
        }
        return acc.Add(*truth, *pred);
      },
      progress);
  if (!pq.ok()) return pq.status();
  if (!options.pred_out_dir.empty()) {
    if (absl::Status s = WriteCocoPanopticJson(
            (fs::path(options.pred_out_dir) / "pred.json").string(), predictions);
        !s.ok()) {
      return s;
    }
  }
  return pq;
}

absl::StatusOr<SemanticMetrics> EvaluateSemanticOnServer(
    const std::string& categories_json, const std::string& image_dir, const std::string& gt_dir,
    int ignore_label, const ServerEvalOptions& options, Progress* progress) {
  absl::StatusOr<CocoPanoptic> vocabulary = ReadCocoPanopticJson(categories_json);
  if (!vocabulary.ok()) return vocabulary.status();
  const int num_classes = static_cast<int>(vocabulary->categories.size());
  if (num_classes == 0)
    return absl::InvalidArgumentError(absl::StrCat(categories_json, ": no categories"));
  absl::StatusOr<std::vector<std::string>> listed = ListImages(image_dir);
  if (!listed.ok()) return listed.status();
  const std::vector<std::string>& images = *listed;
  absl::StatusOr<int> ignore = ResolveIgnoreLabel(
      ignore_label, (fs::path(gt_dir) / (fs::path(images[0]).stem().string() + ".png")).string());
  if (!ignore.ok()) return ignore.status();
  OvsegClient client = MakeEvalClient(options);
  return ParallelAccumulate<SemanticMetrics>(
      images.size(), options.concurrency, [&] { return SemanticMetrics(num_classes, *ignore); },
      [&](size_t i, SemanticMetrics& acc) -> absl::Status {
        const std::string stem = fs::path(images[i]).stem().string();
        absl::StatusOr<LabelMap> truth =
            ReadLabelPng((fs::path(gt_dir) / (stem + ".png")).string());
        if (!truth.ok()) return truth.status();
        absl::StatusOr<v1::SegmentRequest> request =
            EvalRequest(images[i], vocabulary->categories, v1::SEMANTIC, options);
        if (!request.ok()) return request.status();
        absl::StatusOr<v1::SegmentResponse> reply = SendEvalRequest(client, images[i], *request);
        if (!reply.ok()) return reply.status();
        absl::StatusOr<std::vector<int32_t>> pred =
            LabelIndicesFromReply(*reply, truth->width, truth->height, images[i]);
        if (!pred.ok()) return pred.status();
        return acc.Add(stem, *pred, truth->labels);
      },
      progress);
}

}  // namespace ovseg
