#include "evaluation/category_groups.h"

#include <cmath>

namespace ovseg {

const char* CategoryGroupName(CategoryGroup group) {
  switch (group) {
    case CategoryGroup::kAll:
      return "all";
    case CategoryGroup::kSeen:
      return "seen";
    case CategoryGroup::kUnseen:
      return "unseen";
    case CategoryGroup::kThings:
      return "things";
    case CategoryGroup::kStuff:
      return "stuff";
    case CategoryGroup::kSeenThings:
      return "seen_things";
    case CategoryGroup::kUnseenThings:
      return "unseen_things";
  }
  return "?";
}

bool InCategoryGroup(const CocoCategory& category, CategoryGroup group) {
  switch (group) {
    case CategoryGroup::kAll:
      return true;
    case CategoryGroup::kSeen:
      return category.seen.has_value() && *category.seen;
    case CategoryGroup::kUnseen:
      return category.seen.has_value() && !*category.seen;
    case CategoryGroup::kThings:
      return category.category.isthing;
    case CategoryGroup::kStuff:
      return !category.category.isthing;
    case CategoryGroup::kSeenThings:
      return category.category.isthing && InCategoryGroup(category, CategoryGroup::kSeen);
    case CategoryGroup::kUnseenThings:
      return category.category.isthing && InCategoryGroup(category, CategoryGroup::kUnseen);
  }
  return false;
}

std::map<int, const CocoCategory*> CategoriesById(const std::vector<CocoCategory>& categories) {
  std::map<int, const CocoCategory*> by_id;
  for (const CocoCategory& c : categories) by_id[c.category.id] = &c;
  return by_id;
}

nlohmann::json GroupMeansPercent(const std::map<int, double>& per_class,
                                 const std::vector<CocoCategory>& categories) {
  nlohmann::json out = nlohmann::json::object();
  for (CategoryGroup group : kCategoryGroups) {
    double sum = 0;
    int n = 0;
    for (const CocoCategory& c : categories) {
      const auto it = per_class.find(c.category.id);
      if (it == per_class.end() || std::isnan(it->second) || !InCategoryGroup(c, group)) continue;
      sum += it->second;
      ++n;
    }
    out[CategoryGroupName(group)] = n > 0 ? nlohmann::json(100.0 * sum / n) : nlohmann::json();
  }
  return out;
}

nlohmann::json GroupRatesPercent(const std::map<int, HitCount>& per_class,
                                 const std::vector<CocoCategory>& categories) {
  nlohmann::json out = nlohmann::json::object();
  for (CategoryGroup group : kCategoryGroups) {
    HitCount total;
    for (const CocoCategory& c : categories) {
      const auto it = per_class.find(c.category.id);
      if (it == per_class.end() || !InCategoryGroup(c, group)) continue;
      total.hits += it->second.hits;
      total.count += it->second.count;
    }
    out[CategoryGroupName(group)] = {
        {"percent",
         total.count > 0 ? nlohmann::json(100.0 * total.hits / total.count) : nlohmann::json()},
        {"hits", total.hits},
        {"count", total.count}};
  }
  return out;
}

}  // namespace ovseg
