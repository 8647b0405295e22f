#include "evaluation/server_analysis.h"

#include <filesystem>
#include <opencv2/imgcodecs.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "datasets/coco_panoptic.h"
#include "evaluation/category_groups.h"
#include "evaluation/oracle_predictions.h"
#include "evaluation/panoptic_quality.h"
#include "evaluation/parallel_accumulate.h"
#include "evaluation/proposal_recall.h"
#include "evaluation/region_accuracy.h"
#include "evaluation/semantic_metrics.h"
#include "evaluation/server_replies.h"

namespace ovseg {
namespace {

// Label maps' "no class" value for SemanticMetrics (above any vocabulary's size limit).
constexpr int32_t kIgnore = 1 << 20;
// Proposals asked for: the largest K of ProposalRecall.
constexpr int kMaxProposals = ProposalRecall::kProposalCounts.back();

// One thread's figures; Merge() adds another's.
struct Figures {
  // `gt`: the dataset; its categories are the vocabulary every figure is split over.
  explicit Figures(const CocoPanoptic& gt)
      : e2e_pq(gt.PanopticCategories()),
        e2e_semantic(static_cast<int>(gt.categories.size()), kIgnore),
        e2e_panoptic_semantic(static_cast<int>(gt.categories.size()), kIgnore),
        mask_oracle_pq(gt.PanopticCategories()),
        mask_oracle_semantic(static_cast<int>(gt.categories.size()), kIgnore),
        regions(gt.categories),
        class_oracle_pq(gt.PanopticCategories()),
        class_oracle_semantic(static_cast<int>(gt.categories.size()), kIgnore),
        recall(gt.categories) {}
  void Merge(const Figures& o) {
    e2e_pq.Merge(o.e2e_pq);
    e2e_semantic.Merge(o.e2e_semantic);
    e2e_panoptic_semantic.Merge(o.e2e_panoptic_semantic);
    mask_oracle_pq.Merge(o.mask_oracle_pq);
    mask_oracle_semantic.Merge(o.mask_oracle_semantic);
    regions.Merge(o.regions);
    class_oracle_pq.Merge(o.class_oracle_pq);
    class_oracle_semantic.Merge(o.class_oracle_semantic);
    recall.Merge(o.recall);
  }
  PanopticQuality e2e_pq;
  SemanticMetrics e2e_semantic;
  // The PANOPTIC answer's segments as a label map: what mIoU the panoptic post-processing
  // gives against the SEMANTIC task's per-pixel inference (e2e_semantic).
  SemanticMetrics e2e_panoptic_semantic;
  PanopticQuality mask_oracle_pq;
  SemanticMetrics mask_oracle_semantic;
  RegionAccuracy regions;
  PanopticQuality class_oracle_pq;
  SemanticMetrics class_oracle_semantic;
  ProposalRecall recall;
};

// {"PQ": groups, "SQ": groups, "RQ": groups} over the categories PQ counted.
nlohmann::json PqByGroup(const PanopticQuality& pq, const std::vector<CocoCategory>& categories) {
  const PqReport report = pq.Report();
  std::map<int, double> q, s, r;
  for (const auto& [id, scores] : report.per_class) {
    if (scores.n == 0) continue;
    q[id] = scores.pq;
    s[id] = scores.sq;
    r[id] = scores.rq;
  }
  return {{"PQ", GroupMeansPercent(q, categories)},
          {"SQ", GroupMeansPercent(s, categories)},
          {"RQ", GroupMeansPercent(r, categories)}};
}

// {"mIoU": groups, "pACC": percent} over the categories the ground truth holds.
nlohmann::json MiouByGroup(const SemanticMetrics& m, const std::vector<CocoCategory>& categories) {
  const SemanticReport report = m.Report();
  std::map<int, double> iou;
  for (size_t i = 0; i < categories.size(); ++i) iou[categories[i].category.id] = report.iou[i];
  return {{"mIoU", GroupMeansPercent(iou, categories)}, {"pACC", 100.0 * report.pacc}};
}

// The ground truth's segments (crowd excluded) as PNG regions; `sent` gets their indices.
absl::Status AddRegions(const PanopticImage& truth, v1::SegmentRequest* request,
                        std::vector<size_t>* sent) {
  for (size_t s = 0; s < truth.segments.size(); ++s) {
    if (truth.segments[s].iscrowd) continue;
    cv::Mat mask(truth.height, truth.width, CV_8UC1, cv::Scalar(0));
    bool any = false;
    for (size_t p = 0; p < truth.ids.size(); ++p) {
      if (truth.ids[p] != truth.segments[s].id) continue;
      mask.data[p] = 255;
      any = true;
    }
    if (!any) continue;
    std::vector<uint8_t> png;
    if (!cv::imencode(".png", mask, png)) {
      return absl::InternalError(absl::StrCat(truth.name, ": cannot encode a region PNG"));
    }
    request->add_regions()->set_png(png.data(), png.size());
    sent->push_back(s);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<nlohmann::json> AnalyseOnServer(const std::string& gt_json,
                                               const std::string& gt_dir,
                                               const std::string& image_dir,
                                               const ServerAnalysisOptions& options,
                                               Progress* progress) {
  absl::StatusOr<CocoPanoptic> gt = ReadCocoPanopticJson(gt_json);
  if (!gt.ok()) return gt.status();
  const std::vector<CocoCategory>& categories = gt->categories;
  if (categories.empty())
    return absl::InvalidArgumentError(absl::StrCat(gt_json, ": no categories"));
  absl::flat_hash_map<int64_t, const CocoImageInfo*> images;
  for (const CocoImageInfo& m : gt->images) images[m.id] = &m;
  size_t n = gt->annotations.size();
  if (options.max_images > 0) n = std::min(n, static_cast<size_t>(options.max_images));
  OvsegClient client = MakeEvalClient(options.server);
  const ServerEvalOptions& so = options.server;

  absl::StatusOr<Figures> figures = ParallelAccumulate<Figures>(
      n, so.concurrency, [&] { return Figures(*gt); },
      [&](size_t i, Figures& acc) -> absl::Status {
        const CocoPanopticAnnotation& a = gt->annotations[i];
        absl::StatusOr<GroundTruthImage> loaded =
            ReadGroundTruthImage(gt_json, gt_dir, image_dir, images, a);
        if (!loaded.ok()) return loaded.status();
        const PanopticImage* truth = &loaded->truth;
        const int w = truth->width, h = truth->height;
        const std::string& path = loaded->image_path;
        const std::vector<int32_t> truth_labels = SemanticFromPanoptic(*truth, categories, kIgnore);
        auto ask = [&](v1::Task task) -> absl::StatusOr<v1::SegmentRequest> {
          absl::StatusOr<v1::SegmentRequest> r = EvalRequest(path, categories, task, so);
          if (r.ok()) r->mutable_options()->set_head_mode(options.head_mode);
          return r;
        };
        auto semantic_of = [&](const PanopticImage& p) {
          std::vector<int32_t> labels = SemanticFromPanoptic(p, categories, kIgnore);
          for (int32_t& v : labels) {
            if (v == kIgnore) v = SemanticMetrics::kNoPrediction;
          }
          return labels;
        };

        // End to end, and the oracle classifier on the same panoptic masks.
        absl::StatusOr<v1::SegmentRequest> request = ask(v1::PANOPTIC);
        if (!request.ok()) return request.status();
        absl::StatusOr<v1::SegmentResponse> reply = SendEvalRequest(client, path, *request);
        if (!reply.ok()) return reply.status();
        absl::StatusOr<PanopticImage> pred =
            PanopticFromReply(*reply, categories, w, h, a.file_name, path);
        if (!pred.ok()) return pred.status();
        if (absl::Status s = acc.e2e_pq.Add(*truth, *pred); !s.ok()) return s;
        if (absl::Status s =
                acc.e2e_panoptic_semantic.Add(a.file_name, semantic_of(*pred), truth_labels);
            !s.ok()) {
          return s;
        }
        absl::StatusOr<PanopticImage> relabelled = OracleClassPrediction(*truth, *pred, categories);
        if (!relabelled.ok()) return relabelled.status();
        if (absl::Status s = acc.class_oracle_pq.Add(*truth, *relabelled); !s.ok()) return s;
        if (absl::Status s =
                acc.class_oracle_semantic.Add(a.file_name, semantic_of(*relabelled), truth_labels);
            !s.ok()) {
          return s;
        }

        request = ask(v1::SEMANTIC);
        if (!request.ok()) return request.status();
        reply = SendEvalRequest(client, path, *request);
        if (!reply.ok()) return reply.status();
        absl::StatusOr<std::vector<int32_t>> labels = LabelIndicesFromReply(*reply, w, h, path);
        if (!labels.ok()) return labels.status();
        if (absl::Status s = acc.e2e_semantic.Add(a.file_name, *labels, truth_labels); !s.ok()) {
          return s;
        }

        // Oracle masks: the ground-truth segments as regions, named by the semantic map.
        request = ask(v1::SEMANTIC);
        if (!request.ok()) return request.status();
        std::vector<size_t> sent;
        if (absl::Status s = AddRegions(*truth, &*request, &sent); !s.ok()) return s;
        std::vector<int> named(truth->segments.size(), -1);
        if (!sent.empty()) {
          reply = SendEvalRequest(client, path, *request);
          if (!reply.ok()) return reply.status();
          labels = LabelIndicesFromReply(*reply, w, h, path);
          if (!labels.ok()) return labels.status();
          std::vector<int32_t> category_map(labels->size(), -1);
          for (size_t p = 0; p < labels->size(); ++p) {
            const int32_t v = (*labels)[p];
            if (v >= static_cast<int32_t>(categories.size())) {
              return absl::DataLossError(
                  absl::StrCat(path, ": label index ", v, " outside the vocabulary"));
            }
            if (v >= 0) category_map[p] = categories[static_cast<size_t>(v)].category.id;
          }
          named = MajorityCategories(*truth, category_map);
        }
        for (size_t s : sent) {
          const int predicted = named[s] < 0 ? RegionAccuracy::kNoPrediction : named[s];
          if (absl::Status st = acc.regions.Add(truth->segments[s].category_id, predicted);
              !st.ok()) {
            return absl::InvalidArgumentError(absl::StrCat(a.file_name, ": ", st.message()));
          }
        }
        for (size_t s = 0; s < truth->segments.size(); ++s) {
          if (truth->segments[s].iscrowd) named[s] = -1;
        }
        const PanopticImage oracle_masks = OracleMaskPrediction(*truth, named, categories);
        if (absl::Status s = acc.mask_oracle_pq.Add(*truth, oracle_masks); !s.ok()) return s;
        if (absl::Status s =
                acc.mask_oracle_semantic.Add(a.file_name, semantic_of(oracle_masks), truth_labels);
            !s.ok()) {
          return s;
        }

        if (!options.proposals) return absl::OkStatus();
        request = ask(v1::PROPOSALS);
        if (!request.ok()) return request.status();
        request->mutable_options()->set_max_segments(kMaxProposals);
        request->mutable_options()->set_score_threshold(0.0f);
        reply = SendEvalRequest(client, path, *request);
        if (!reply.ok()) return reply.status();
        absl::StatusOr<std::vector<std::vector<uint8_t>>> masks =
            MasksFromReply(*reply, w, h, path);
        if (!masks.ok()) return masks.status();
        return acc.recall.Add(*truth, *masks);
      },
      progress);
  if (!figures.ok()) return figures.status();

  nlohmann::json report;
  report["images"] = n;
  report["head_mode"] = v1::HeadMode_Name(options.head_mode);
  nlohmann::json e2e = PqByGroup(figures->e2e_pq, categories);
  e2e.update(MiouByGroup(figures->e2e_semantic, categories));
  e2e["from_panoptic"] = MiouByGroup(figures->e2e_panoptic_semantic, categories);
  report["end_to_end"] = e2e;
  nlohmann::json masks = PqByGroup(figures->mask_oracle_pq, categories);
  masks.update(MiouByGroup(figures->mask_oracle_semantic, categories));
  masks["regions"] = figures->regions.Report();
  report["oracle_masks"] = masks;
  nlohmann::json classes = PqByGroup(figures->class_oracle_pq, categories);
  classes.update(MiouByGroup(figures->class_oracle_semantic, categories));
  report["oracle_classifier"] = classes;
  if (options.proposals) report["proposal_recall"] = figures->recall.Report();
  return report;
}

}  // namespace ovseg
