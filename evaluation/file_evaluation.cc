#include "evaluation/file_evaluation.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "datasets/coco_panoptic.h"
#include "datasets/label_png.h"
#include "evaluation/parallel_accumulate.h"

namespace ovseg {
namespace {

nlohmann::json Percent(double fraction) {
  return std::isnan(fraction) ? nlohmann::json(nullptr) : nlohmann::json(100.0 * fraction);
}

nlohmann::json Scores(const PqScores& s, bool with_n) {
  nlohmann::json j = {{"PQ", 100.0 * s.pq}, {"SQ", 100.0 * s.sq}, {"RQ", 100.0 * s.rq}};
  if (with_n) j["N"] = s.n;
  return j;
}

}  // namespace

absl::StatusOr<PanopticQuality> EvaluatePanopticFiles(const PanopticFiles& files, int threads,
                                                      Progress* progress) {
  absl::StatusOr<CocoPanoptic> gt = ReadCocoPanopticJson(files.gt_json);
  if (!gt.ok()) return gt.status();
  absl::StatusOr<CocoPanoptic> pred = ReadCocoPanopticJson(files.pred_json);
  if (!pred.ok()) return pred.status();
  for (const std::string& dir : {files.gt_dir, files.pred_dir}) {
    if (!std::filesystem::is_directory(dir)) {
      return absl::NotFoundError(absl::StrCat(dir, ": no such directory"));
    }
  }
  absl::flat_hash_map<int64_t, const CocoPanopticAnnotation*> by_image;
  for (const CocoPanopticAnnotation& a : pred->annotations) by_image[a.image_id] = &a;
  std::vector<std::pair<const CocoPanopticAnnotation*, const CocoPanopticAnnotation*>> pairs;
  for (const CocoPanopticAnnotation& a : gt->annotations) {
    const auto it = by_image.find(a.image_id);
    if (it == by_image.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          files.pred_json, ": no prediction for image_id ", a.image_id, " (", a.file_name, ")"));
    }
    pairs.push_back({&a, it->second});
  }
  const std::vector<PanopticCategory> categories = gt->PanopticCategories();
  return ParallelAccumulate<PanopticQuality>(
      pairs.size(), threads, [&] { return PanopticQuality(categories); },
      [&](size_t i, PanopticQuality& pq) -> absl::Status {
        absl::StatusOr<PanopticImage> g = ReadPanopticPng(files.gt_dir, *pairs[i].first);
        if (!g.ok()) return g.status();
        absl::StatusOr<PanopticImage> p = ReadPanopticPng(files.pred_dir, *pairs[i].second);
        if (!p.ok()) return p.status();
        return pq.Add(*g, *p);
      },
      progress);
}

absl::StatusOr<SemanticMetrics> EvaluateSemanticFiles(const SemanticFiles& files, int threads,
                                                      Progress* progress) {
  if (files.num_classes <= 0) {
    return absl::InvalidArgumentError("--num-classes must be positive");
  }
  for (const std::string& dir : {files.gt_dir, files.pred_dir}) {
    if (!std::filesystem::is_directory(dir)) {
      return absl::NotFoundError(absl::StrCat(dir, ": no such directory"));
    }
  }
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(files.gt_dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".png") {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  if (names.empty()) return absl::NotFoundError(absl::StrCat(files.gt_dir, ": no .png files"));
  absl::StatusOr<int> ignore = ResolveIgnoreLabel(
      files.ignore_label, (std::filesystem::path(files.gt_dir) / names[0]).string());
  if (!ignore.ok()) return ignore.status();
  return ParallelAccumulate<SemanticMetrics>(
      names.size(), threads, [&] { return SemanticMetrics(files.num_classes, *ignore); },
      [&](size_t i, SemanticMetrics& m) -> absl::Status {
        const std::string gt_path = (std::filesystem::path(files.gt_dir) / names[i]).string();
        const std::string pred_path = (std::filesystem::path(files.pred_dir) / names[i]).string();
        absl::StatusOr<LabelMap> g = ReadLabelPng(gt_path);
        if (!g.ok()) return g.status();
        absl::StatusOr<LabelMap> p = ReadLabelPng(pred_path);
        if (!p.ok()) return p.status();
        if (g->width != p->width || g->height != p->height) {
          return absl::InvalidArgumentError(absl::StrCat(pred_path, " is ", p->width, "x",
                                                         p->height, ", its ground truth ", g->width,
                                                         "x", g->height));
        }
        return m.Add(names[i], p->labels, g->labels);
      },
      progress);
}

nlohmann::json PanopticReportJson(const PanopticQuality& pq) {
  const PqReport r = pq.Report();
  nlohmann::json j = {{"All", Scores(r.all, true)},
                      {"Things", Scores(r.things, true)},
                      {"Stuff", Scores(r.stuff, true)}};
  nlohmann::json per_class = nlohmann::json::object();
  for (const PanopticCategory& c : pq.categories()) {
    nlohmann::json one = Scores(r.per_class.at(c.id), true);  // N 0: not scored
    one["name"] = c.name;
    per_class[std::to_string(c.id)] = one;
  }
  j["per_class"] = per_class;
  return j;
}

nlohmann::json SemanticReportJson(const SemanticMetrics& metrics) {
  const SemanticReport r = metrics.Report();
  nlohmann::json iou = nlohmann::json::object(), acc = nlohmann::json::object();
  for (size_t c = 0; c < r.iou.size(); ++c) {
    iou[std::to_string(c)] = Percent(r.iou[c]);
    acc[std::to_string(c)] = Percent(r.acc[c]);
  }
  return {{"mIoU", Percent(r.miou)},
          {"fwIoU", Percent(r.fwiou)},
          {"mACC", Percent(r.macc)},
          {"pACC", Percent(r.pacc)},
          {"IoU", iou},
          {"ACC", acc}};
}

std::string PanopticReportTable(const PanopticQuality& pq) {
  const PqReport r = pq.Report();
  std::string out = absl::StrFormat("%-10s| %5s  %5s  %5s %5s\n", "", "PQ", "SQ", "RQ", "N");
  out += std::string(38, '-') + "\n";
  for (const auto& [name, s] : {std::pair<const char*, const PqScores&>{"All", r.all},
                                {"Things", r.things},
                                {"Stuff", r.stuff}}) {
    out += absl::StrFormat("%-10s| %5.1f  %5.1f  %5.1f %5d\n", name, 100 * s.pq, 100 * s.sq,
                           100 * s.rq, s.n);
  }
  return out;
}

}  // namespace ovseg
