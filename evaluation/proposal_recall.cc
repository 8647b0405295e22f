#include "evaluation/proposal_recall.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ovseg {
namespace {

void AddCounts(const std::map<int, HitCount>& from, std::map<int, HitCount>& to) {
  for (const auto& [id, h] : from) {
    to[id].hits += h.hits;
    to[id].count += h.count;
  }
}

}  // namespace

ProposalRecall::ProposalRecall(std::vector<CocoCategory> categories)
    : categories_(std::move(categories)), by_id_(CategoriesById(categories_)) {}

absl::Status ProposalRecall::Add(const PanopticImage& gt,
                                 const std::vector<std::vector<uint8_t>>& proposals) {
  const size_t pixels = static_cast<size_t>(gt.width) * gt.height;
  absl::flat_hash_map<uint32_t, size_t> index;  // segment id -> position in gt.segments
  std::vector<int64_t> area(gt.segments.size(), 0);
  for (size_t s = 0; s < gt.segments.size(); ++s) {
    if (!(by_id_.count(gt.segments[s].category_id) > 0)) {
      return absl::InvalidArgumentError(absl::StrCat(gt.name, ": segment ", gt.segments[s].id,
                                                     " has unknown category ",
                                                     gt.segments[s].category_id));
    }
    index[gt.segments[s].id] = s;
  }
  std::vector<int32_t> owner(pixels, -1);
  for (size_t p = 0; p < pixels; ++p) {
    const auto it = index.find(gt.ids[p]);
    if (it == index.end()) continue;
    owner[p] = static_cast<int32_t>(it->second);
    ++area[it->second];
  }
  // best[k][s]: the best IoU of segment s among the first kProposalCounts[k] proposals.
  std::vector<std::vector<double>> best(kProposalCounts.size(),
                                        std::vector<double>(gt.segments.size(), 0.0));
  std::vector<int64_t> inter(gt.segments.size());
  for (size_t j = 0; j < proposals.size(); ++j) {
    if (proposals[j].size() != pixels) {
      return absl::InvalidArgumentError(
          absl::StrCat(gt.name, ": proposal ", j, " is not ", gt.width, "x", gt.height));
    }
    std::fill(inter.begin(), inter.end(), 0);
    int64_t proposal_area = 0;
    for (size_t p = 0; p < pixels; ++p) {
      if (proposals[j][p] == 0) continue;
      ++proposal_area;
      if (owner[p] >= 0) ++inter[static_cast<size_t>(owner[p])];
    }
    for (size_t s = 0; s < gt.segments.size(); ++s) {
      if (inter[s] == 0) continue;
      const double iou =
          static_cast<double>(inter[s]) / static_cast<double>(area[s] + proposal_area - inter[s]);
      for (size_t k = 0; k < kProposalCounts.size(); ++k) {
        if (j < static_cast<size_t>(kProposalCounts[k])) best[k][s] = std::max(best[k][s], iou);
      }
    }
  }
  for (size_t s = 0; s < gt.segments.size(); ++s) {
    const PanopticSegment& seg = gt.segments[s];
    if (seg.iscrowd || area[s] == 0) continue;
    for (size_t k = 0; k < kProposalCounts.size(); ++k) {
      for (size_t t = 0; t < kIouThresholds.size(); ++t) {
        HitCount& h = hits_[k][t][seg.category_id];
        ++h.count;
        h.hits += best[k][s] >= kIouThresholds[t];
      }
    }
    const size_t bucket = static_cast<size_t>(
        std::upper_bound(kAreaBounds.begin(), kAreaBounds.end(), area[s]) - kAreaBounds.begin());
    HitCount& by_area = hits_by_area_[bucket][seg.category_id];
    ++by_area.count;
    by_area.hits += best.back()[s] >= kIouThresholds.front();
    best_iou_sum_ += best.back()[s];
    ++segments_;
  }
  return absl::OkStatus();
}

void ProposalRecall::Merge(const ProposalRecall& other) {
  for (size_t k = 0; k < kProposalCounts.size(); ++k) {
    for (size_t t = 0; t < kIouThresholds.size(); ++t) AddCounts(other.hits_[k][t], hits_[k][t]);
  }
  for (size_t b = 0; b < hits_by_area_.size(); ++b)
    AddCounts(other.hits_by_area_[b], hits_by_area_[b]);
  best_iou_sum_ += other.best_iou_sum_;
  segments_ += other.segments_;
}

nlohmann::json ProposalRecall::Report() const {
  nlohmann::json out = nlohmann::json::object();
  for (size_t k = 0; k < kProposalCounts.size(); ++k) {
    for (size_t t = 0; t < kIouThresholds.size(); ++t) {
      out[absl::StrFormat("AR@%d_IoU%.2f", kProposalCounts[k], kIouThresholds[t])] =
          GroupRatesPercent(hits_[k][t], categories_);
    }
  }
  static constexpr std::array<const char*, kAreaBounds.size() + 1> kAreaNames = {"small", "medium",
                                                                                 "large"};
  nlohmann::json& by_area =
      out[absl::StrFormat("AR@%d_IoU%.2f_by_area", kProposalCounts.back(), kIouThresholds.front())];
  for (size_t b = 0; b < hits_by_area_.size(); ++b) {
    by_area[kAreaNames[b]] = GroupRatesPercent(hits_by_area_[b], categories_);
  }
  // Per class at the largest K and the first threshold: {name: {"hits", "count"}}, for
  // what a group's figure hides (which shapes the generator misses).
  nlohmann::json& per_class = out[absl::StrFormat("AR@%d_IoU%.2f_per_class", kProposalCounts.back(),
                                                  kIouThresholds.front())];
  per_class = nlohmann::json::object();
  for (const auto& [id, h] : hits_.back().front()) {
    const auto it = by_id_.find(id);
    if (it == by_id_.end()) continue;
    per_class[it->second->category.name] = {{"hits", h.hits}, {"count", h.count}};
  }
  out["mean_best_iou"] =
      segments_ > 0 ? nlohmann::json(100.0 * best_iou_sum_ / segments_) : nlohmann::json();
  out["segments"] = segments_;
  return out;
}

}  // namespace ovseg
