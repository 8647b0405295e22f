// The groups every analysis figure is split into (docs/analysis.md): all categories,
// seen and unseen (from the categories' optional "seen" field; a category without it is
// in neither), things and stuff, and seen things and unseen things. Per-class values are averaged
// over the classes of each group that have a value (NaN = undefined for that class, e.g. absent
// from the ground truth); pooled counts are summed over the group's classes, then divided.
#ifndef OVSEG_EVALUATION_CATEGORY_GROUPS_H_
#define OVSEG_EVALUATION_CATEGORY_GROUPS_H_

#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "datasets/coco_panoptic.h"

namespace ovseg {

enum class CategoryGroup { kAll, kSeen, kUnseen, kThings, kStuff, kSeenThings, kUnseenThings };
inline constexpr std::array<CategoryGroup, 7> kCategoryGroups = {
    CategoryGroup::kAll,         CategoryGroup::kSeen,  CategoryGroup::kUnseen,
    CategoryGroup::kThings,      CategoryGroup::kStuff, CategoryGroup::kSeenThings,
    CategoryGroup::kUnseenThings};

// "all", "seen", "unseen", "things", "stuff", "seen_things", "unseen_things": the JSON
// keys.
const char* CategoryGroupName(CategoryGroup group);
bool InCategoryGroup(const CocoCategory& category, CategoryGroup group);

// Category id -> its category, for the analyses' lookups.
std::map<int, const CocoCategory*> CategoriesById(const std::vector<CocoCategory>& categories);

// {"all": mean, "seen": ..., ...} of per-class values keyed by category id, in percent
// (values are fractions); a group without any defined value is null.
nlohmann::json GroupMeansPercent(const std::map<int, double>& per_class,
                                 const std::vector<CocoCategory>& categories);

// Per-class counts of hits out of trials, pooled per group: {"all": {"percent", "hits",
// "count"}, ...}; percent is null for a group without trials.
struct HitCount {
  int64_t hits = 0, count = 0;
};
nlohmann::json GroupRatesPercent(const std::map<int, HitCount>& per_class,
                                 const std::vector<CocoCategory>& categories);

}  // namespace ovseg

#endif  // OVSEG_EVALUATION_CATEGORY_GROUPS_H_
