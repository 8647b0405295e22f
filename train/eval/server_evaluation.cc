#include "train/eval/server_evaluation.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "client/ovseg_client.h"
#include "train/data/coco_panoptic.h"
#include "train/data/dataset.h"
#include "train/data/label_png.h"
#include "train/eval/parallel_accumulate.h"

namespace ovseg {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<std::string> ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": missing"));
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

void AddVocabulary(const std::vector<CocoCategory>& categories, v1::SegmentRequest* request) {
  for (const CocoCategory& c : categories) {
    v1::Label* label = request->mutable_labels()->add_labels();
    std::vector<std::string> names = {c.category.name};
    names.insert(names.end(), c.synonyms.begin(), c.synonyms.end());
    label->set_name(absl::StrJoin(names, ","));
    label->set_is_thing(c.category.isthing);
  }
}

absl::StatusOr<v1::SegmentResponse> Ask(OvsegClient& client, const std::string& image_path,
                                        const std::vector<CocoCategory>& categories, v1::Task task,
                                        const ServerEvalOptions& options) {
  absl::StatusOr<std::string> bytes = ReadBytes(image_path);
  if (!bytes.ok()) return bytes.status();
  v1::SegmentRequest request;
  request.mutable_image()->set_encoded(*std::move(bytes));
  AddVocabulary(categories, &request);
  request.set_task(task);
  request.mutable_options()->set_score_threshold(options.score_threshold);
  request.mutable_options()->set_mask_format(v1::PNG);
  request.mutable_options()->set_return_semantic_map(task == v1::SEMANTIC);
  absl::StatusOr<v1::SegmentResponse> response = client.Segment(request);
  if (!response.ok()) {
    return absl::Status(response.status().code(),
                        absl::StrCat(image_path, ": ", response.status().message()));
  }
  return response;
}

absl::StatusOr<cv::Mat> DecodeMask(const std::string& png, int width, int height,
                                   const std::string& where) {
  const cv::Mat buffer(1, static_cast<int>(png.size()), CV_8UC1, const_cast<char*>(png.data()));
  cv::Mat mask = cv::imdecode(buffer, cv::IMREAD_UNCHANGED);
  if (mask.empty() || mask.channels() != 1 || mask.cols != width || mask.rows != height) {
    return absl::DataLossError(absl::StrCat(where, ": the server's mask is not a ", width, "x",
                                            height, " single-channel PNG"));
  }
  return mask;
}

OvsegClient MakeClient(const ServerEvalOptions& o) {
  return OvsegClient(ClientOptions{o.server, "", o.timeout});
}

}  // namespace

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
  OvsegClient client = MakeClient(options);
  CocoPanoptic predictions;
  predictions.categories = gt->categories;
  predictions.annotations.resize(gt->annotations.size());
  const std::vector<PanopticCategory> categories = gt->PanopticCategories();
  absl::StatusOr<PanopticQuality> pq = ParallelAccumulate<PanopticQuality>(
      gt->annotations.size(), options.concurrency, [&] { return PanopticQuality(categories); },
      [&](size_t i, PanopticQuality& acc) -> absl::Status {
        const CocoPanopticAnnotation& a = gt->annotations[i];
        const auto info = images.find(a.image_id);
        if (info == images.end()) {
          return absl::InvalidArgumentError(
              absl::StrCat(gt_json, ": image_id ", a.image_id, " is not in images"));
        }
        absl::StatusOr<PanopticImage> truth = ReadPanopticPng(gt_dir, a);
        if (!truth.ok()) return truth.status();
        const std::string image_path = (fs::path(image_dir) / info->second->file_name).string();
        absl::StatusOr<v1::SegmentResponse> reply =
            Ask(client, image_path, gt->categories, v1::PANOPTIC, options);
        if (!reply.ok()) return reply.status();
        PanopticImage pred;
        pred.name = a.file_name;
        pred.width = truth->width;
        pred.height = truth->height;
        pred.ids.assign(truth->ids.size(), 0);
        for (const v1::Segment& s : reply->segments()) {
          if (s.label_index() >= gt->categories.size()) {
            return absl::DataLossError(absl::StrCat(image_path, ": label_index ", s.label_index(),
                                                    " outside the vocabulary"));
          }
          absl::StatusOr<cv::Mat> mask = DecodeMask(s.png(), pred.width, pred.height, image_path);
          if (!mask.ok()) return mask.status();
          for (int y = 0; y < pred.height; ++y) {
            for (int x = 0; x < pred.width; ++x) {
              if (mask->at<uint8_t>(y, x) != 0)
                pred.ids[static_cast<size_t>(y) * pred.width + x] = s.id();
            }
          }
          pred.segments.push_back({s.id(), gt->categories[s.label_index()].category.id});
        }
        // A segment whose pixels all went to later ones is not in the PNG; drop it.
        KeepVisibleSegments(pred.width, pred.height, pred.ids, &pred.segments);
        if (!options.pred_out_dir.empty()) {
          const std::string png =
              (fs::path(options.pred_out_dir) / "panoptic" / a.file_name).string();
          if (absl::Status s = WritePanopticPng(png, pred.width, pred.height, pred.ids); !s.ok()) {
            return s;
          }
          predictions.annotations[i] = {a.image_id, a.file_name, pred.segments};
        }
        return acc.Add(*truth, pred);
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
  OvsegClient client = MakeClient(options);
  return ParallelAccumulate<SemanticMetrics>(
      images.size(), options.concurrency, [&] { return SemanticMetrics(num_classes, *ignore); },
      [&](size_t i, SemanticMetrics& acc) -> absl::Status {
        const std::string stem = fs::path(images[i]).stem().string();
        absl::StatusOr<LabelMap> truth =
            ReadLabelPng((fs::path(gt_dir) / (stem + ".png")).string());
        if (!truth.ok()) return truth.status();
        absl::StatusOr<v1::SegmentResponse> reply =
            Ask(client, images[i], vocabulary->categories, v1::SEMANTIC, options);
        if (!reply.ok()) return reply.status();
        absl::StatusOr<cv::Mat> map =
            DecodeMask(reply->semantic_map_png(), truth->width, truth->height, images[i]);
        if (!map.ok()) return map.status();
        const int none = map->depth() == CV_16U ? 65535 : 255;
        std::vector<int32_t> pred(truth->labels.size());
        for (int y = 0; y < map->rows; ++y) {
          for (int x = 0; x < map->cols; ++x) {
            const int v = map->depth() == CV_16U ? map->at<uint16_t>(y, x) : map->at<uint8_t>(y, x);
            pred[static_cast<size_t>(y) * map->cols + x] =
                v == none ? SemanticMetrics::kNoPrediction : v;
          }
        }
        return acc.Add(stem, pred, truth->labels);
      },
      progress);
}

}  // namespace ovseg
