#include "model/train/panoptic_validation.h"

#include "absl/strings/str_cat.h"
#include "model/api/label_text.h"
#include "model/serving/seen_vocabulary.h"

namespace ovseg {

absl::StatusOr<nlohmann::json> ValidatePanoptic(SegmentationPipeline& pipeline,
                                                const ValidationSet& set) {
  std::vector<PanopticCategory> categories;
  std::vector<bool> is_thing;
  std::vector<std::string> keys;
  for (const CocoCategory& c : set.categories) {
    categories.push_back(c.category);
    is_thing.push_back(c.category.isthing);
    keys.push_back(NormaliseLabelSynonym(c.category.name));
  }
  PanopticQuality pq(categories);
  const size_t n = set.max_images > 0 ? std::min<size_t>(set.max_images, set.images->size())
                                      : set.images->size();
  for (size_t i = 0; i < n; ++i) {
    absl::StatusOr<Sample> s = set.images->Load(i);
    if (!s.ok()) return s.status();
    ImageRgb8 image{s->width, s->height, PixelBuffer(s->rgb.begin(), s->rgb.end())};
    // Without a generator the ground-truth segments are the regions to classify: the
    // score then measures mask classification alone (as oracle-proposal training does).
    RegionMasks regions;
    if (!pipeline.Info().generates_masks) {
      regions.width = s->width;
      regions.height = s->height;
      for (const PanopticSegment& seg : s->segments) {
        if (seg.iscrowd) continue;
        const size_t at = regions.data.size();
        regions.data.resize(at + s->ids.size(), 0);
        for (size_t p = 0; p < s->ids.size(); ++p) regions.data[at + p] = s->ids[p] == seg.id;
        ++regions.count;
      }
    }
    PipelineRequest r;
    r.image = &image;
    if (regions.count > 0) r.regions = &regions;
    r.vocabulary = set.vocabulary;
    r.is_thing = is_thing;
    r.label_keys = keys;
    r.task = SegmentTask::kPanoptic;
    r.head_mode = HeadMode::kDefault;
    r.params.score_threshold = 0.0f;
    if (!pipeline.Info().generates_masks && regions.count == 0) continue;  // nothing to classify
    std::vector<absl::StatusOr<PipelineResult>> out = pipeline.Run({r});
    if (!out[0].ok()) return out[0].status();
    PanopticImage truth{s->name, s->width, s->height, s->ids, s->segments};
    PanopticImage pred{
        s->name,
        s->width,
        s->height,
        std::vector<uint32_t>(out[0]->segment_id_map.begin(), out[0]->segment_id_map.end()),
        {}};
    for (size_t k = 0; k < out[0]->segments.size(); ++k) {
      pred.segments.push_back({static_cast<uint32_t>(k + 1),
                               set.categories.at(out[0]->segments[k].label_index).category.id});
    }
    KeepVisibleSegments(pred.width, pred.height, pred.ids, &pred.segments);
    if (absl::Status st = pq.Add(truth, pred); !st.ok()) return st;
  }
  const PqReport report = pq.Report();
  const SeenVocabulary seen(set.training_vocabulary);
  double seen_sum = 0, unseen_sum = 0;
  int seen_n = 0, unseen_n = 0;
  for (const CocoCategory& c : set.categories) {
    const PqScores& s = report.per_class.at(c.category.id);
    if (s.n == 0) continue;
    if (seen.IsSeen(NormaliseLabelSynonym(c.category.name))) {
      seen_sum += s.pq;
      ++seen_n;
    } else {
      unseen_sum += s.pq;
      ++unseen_n;
    }
  }
  return nlohmann::json{{"PQ", 100 * report.all.pq},
                        {"SQ", 100 * report.all.sq},
                        {"RQ", 100 * report.all.rq},
                        {"PQ_things", 100 * report.things.pq},
                        {"PQ_stuff", 100 * report.stuff.pq},
                        {"PQ_seen", seen_n > 0 ? 100 * seen_sum / seen_n : 0.0},
                        {"PQ_unseen", unseen_n > 0 ? 100 * unseen_sum / unseen_n : 0.0},
                        {"images", n}};
}

}  // namespace ovseg
