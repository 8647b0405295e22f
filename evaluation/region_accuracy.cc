#include "evaluation/region_accuracy.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace ovseg {

RegionAccuracy::RegionAccuracy(std::vector<CocoCategory> categories)
    : categories_(std::move(categories)), by_id_(CategoriesById(categories_)) {}

RegionAccuracy::Words RegionAccuracy::SplitName(int id) const {
  Words w;
  const auto it = by_id_.find(id);
  if (it == by_id_.end() || !it->second->category.isthing) return w;
  const std::vector<std::string> parts =
      absl::StrSplit(it->second->category.name, ' ', absl::SkipEmpty());
  if (parts.size() < 2) return w;
  w.first = parts.front();
  w.last = parts.back();
  w.middle = absl::StrJoin(parts.begin() + 1, parts.end() - 1, " ");
  w.valid = true;
  return w;
}

absl::Status RegionAccuracy::Add(int truth, int predicted) {
  if (!(by_id_.count(truth) > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("region of unknown category id ", truth));
  }
  if (predicted != kNoPrediction && !(by_id_.count(predicted) > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("prediction of unknown category id ", predicted));
  }
  HitCount& c = per_class_[truth];
  ++c.count;
  c.hits += predicted == truth;
  const Words t = SplitName(truth);
  if (!t.valid) return absl::OkStatus();
  ++word_regions_;
  const Words p = SplitName(predicted);
  if (!p.valid) {
    ++other_;
    return absl::OkStatus();
  }
  const bool colour = p.first == t.first, pattern = p.middle == t.middle, shape = p.last == t.last;
  colour_ += colour;
  pattern_ += pattern;
  shape_ += shape;
  const int wrong = !colour + !pattern + !shape;
  if (wrong == 1) {
    (!colour ? colour_only_ : !pattern ? pattern_only_ : shape_only_)++;
  } else if (wrong > 1) {
    ++several_;
  }
  return absl::OkStatus();
}

void RegionAccuracy::Merge(const RegionAccuracy& other) {
  for (const auto& [id, c] : other.per_class_) {
    per_class_[id].hits += c.hits;
    per_class_[id].count += c.count;
  }
  word_regions_ += other.word_regions_;
  colour_ += other.colour_;
  pattern_ += other.pattern_;
  shape_ += other.shape_;
  colour_only_ += other.colour_only_;
  pattern_only_ += other.pattern_only_;
  shape_only_ += other.shape_only_;
  several_ += other.several_;
  other_ += other.other_;
}

nlohmann::json RegionAccuracy::Report() const {
  auto percent = [&](int64_t hits) {
    return word_regions_ > 0 ? nlohmann::json(100.0 * hits / word_regions_) : nlohmann::json();
  };
  return {{"top1", GroupRatesPercent(per_class_, categories_)},
          {"word_positions",
           {{"regions", word_regions_},
            {"colour", percent(colour_)},
            {"pattern", percent(pattern_)},
            {"shape", percent(shape_)},
            {"errors",
             {{"colour_only", colour_only_},
              {"pattern_only", pattern_only_},
              {"shape_only", shape_only_},
              {"several", several_},
              {"other", other_}}}}}};
}

}  // namespace ovseg
