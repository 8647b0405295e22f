// Top-1 accuracy of region classification: each ground-truth region (an oracle mask sent
// to the server, or a crop shown to CLIP) has one predicted category, right or wrong.
// Rates are pooled over regions (hits / regions) per category group (category_groups.h).
//
// Word positions: the synthetic world names things "<colour> [<pattern>] <shape>" (no
// pattern word for plain), so for a thing region whose true name has two or more words
// the report also says whether the prediction got the first word (colour), the middle
// words (pattern; none = plain) and the last word (shape) right, and how the wrong
// predictions were wrong: by colour only, pattern only, shape only, several words, or
// not a "<colour> [<pattern>] <shape>" name at all (stuff, or nothing predicted). On
// datasets whose names have another structure the section is present but means little.
#ifndef OVSEG_EVALUATION_REGION_ACCURACY_H_
#define OVSEG_EVALUATION_REGION_ACCURACY_H_

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "datasets/coco_panoptic.h"
#include "evaluation/category_groups.h"

namespace ovseg {

class RegionAccuracy {
 public:
  // No category was predicted for the region (the server left its pixels unlabelled).
  static constexpr int kNoPrediction = -1;

  explicit RegionAccuracy(std::vector<CocoCategory> categories);

  // One region of category `truth` (an id of the categories) predicted as `predicted`
  // (an id, or kNoPrediction). An id outside the categories is an error naming it.
  absl::Status Add(int truth, int predicted);
  void Merge(const RegionAccuracy& other);

  // {"top1": GroupRatesPercent, "word_positions": {"regions", "colour", "pattern", "shape"
  // (percent right), "errors": {"colour_only", "pattern_only", "shape_only", "several",
  // "other"} (counts)}}.
  nlohmann::json Report() const;

 private:
  struct Words {
    std::string first, middle, last;
    bool valid = false;  // a thing named with two or more words
  };
  Words SplitName(int id) const;

  std::vector<CocoCategory> categories_;
  std::map<int, const CocoCategory*> by_id_;
  std::map<int, HitCount> per_class_;
  int64_t word_regions_ = 0, colour_ = 0, pattern_ = 0, shape_ = 0;
  int64_t colour_only_ = 0, pattern_only_ = 0, shape_only_ = 0, several_ = 0, other_ = 0;
};

}  // namespace ovseg

#endif  // OVSEG_EVALUATION_REGION_ACCURACY_H_
