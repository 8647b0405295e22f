// The stage analysis's scoring on tiny cases with known answers (docs/analysis.md):
// oracle predictions, top-1 region accuracy with its word-position summary, proposal
// recall, and the seen / unseen / things / stuff split.
#include <gtest/gtest.h>

#include <cmath>

#include "evaluation/category_groups.h"
#include "evaluation/oracle_predictions.h"
#include "evaluation/panoptic_quality.h"
#include "evaluation/proposal_recall.h"
#include "evaluation/region_accuracy.h"
#include "evaluation/region_crops.h"

namespace ovseg {
namespace {

// id 1: stuff "grass" (seen); 2: "red circle" (seen); 3: "red striped star" (unseen);
// 4: "blue circle" (unseen).
std::vector<CocoCategory> Categories() {
  std::vector<CocoCategory> c(4);
  c[0].category = {1, "grass", false};
  c[0].seen = true;
  c[1].category = {2, "red circle", true};
  c[1].seen = true;
  c[2].category = {3, "red striped star", true};
  c[2].seen = false;
  c[3].category = {4, "blue circle", true};
  c[3].seen = false;
  return c;
}

std::vector<PanopticCategory> Panoptic(const std::vector<CocoCategory>& c) {
  std::vector<PanopticCategory> out;
  for (const CocoCategory& x : c) out.push_back(x.category);
  return out;
}

// 4 x 2 image: columns 0-1 grass (segment 1), column 2 a red circle (segment 2),
// column 3 a red striped star (segment 3).
PanopticImage Truth() {
  PanopticImage gt;
  gt.name = "truth.png";
  gt.width = 4;
  gt.height = 2;
  gt.ids = {1, 1, 2, 3, 1, 1, 2, 3};
  gt.segments = {{1, 1, false, 4, {}}, {2, 2, false, 2, {}}, {3, 3, false, 2, {}}};
  return gt;
}

double PqOf(const PanopticImage& gt, const PanopticImage& pred) {
  const std::vector<CocoCategory> c = Categories();
  PanopticQuality pq(Panoptic(c));
  EXPECT_TRUE(pq.Add(gt, pred).ok());
  return 100 * pq.Report().all.pq;
}

TEST(OraclePredictionsTest, PerfectLabelsScore100AndOneSwapIsComputed) {
  const PanopticImage gt = Truth();
  // The oracle mask generator with every region named right: PQ 100.
  EXPECT_DOUBLE_EQ(PqOf(gt, OracleMaskPrediction(gt, {1, 2, 3}, Categories())), 100.0);
  // The star named "blue circle": grass and red circle right (PQ 1 each), the star a FN,
  // "blue circle" a FP: categories 1, 2 score 1, categories 3 and 4 score 0 -> 50.
  EXPECT_DOUBLE_EQ(PqOf(gt, OracleMaskPrediction(gt, {1, 2, 4}, Categories())), 50.0);
  // A region left unnamed is dropped: the star is a FN only -> (1 + 1 + 0) / 3.
  EXPECT_NEAR(PqOf(gt, OracleMaskPrediction(gt, {1, 2, -1}, Categories())), 200.0 / 3, 1e-9);
}

TEST(OraclePredictionsTest, MajorityNamesEachRegion) {
  const PanopticImage gt = Truth();
  // Per pixel category ids: grass region votes 1,1,1,4 -> 1; circle 2,4 -> tie -> 2;
  // star nothing -> -1.
  const std::vector<int32_t> map = {1, 1, 2, -1, 1, 4, 4, -1};
  EXPECT_EQ(MajorityCategories(gt, map), (std::vector<int>{1, 2, -1}));
}

TEST(OraclePredictionsTest, OracleClassifierNamesTheModelsMasks) {
  const PanopticImage gt = Truth();
  // The model's masks: the grass split in two (both called "red circle"), the circle and
  // the star as one segment called "grass". The oracle names the two grass parts grass
  // and merges them (stuff), and names the joint segment by its best match (a tie of
  // IoU 0.5: the first ground-truth segment in the image, the circle).
  PanopticImage pred;
  pred.name = "pred.png";
  pred.width = 4;
  pred.height = 2;
  pred.ids = {5, 6, 7, 7, 5, 6, 7, 7};
  pred.segments = {{5, 2, false, 0, {}}, {6, 2, false, 0, {}}, {7, 1, false, 0, {}}};
  absl::StatusOr<PanopticImage> named = OracleClassPrediction(gt, pred, Categories());
  ASSERT_TRUE(named.ok()) << named.status();
  ASSERT_EQ(named->segments.size(), 2u);
  EXPECT_EQ(named->segments[0].category_id, 1);
  EXPECT_EQ(named->segments[1].category_id, 2);
  EXPECT_EQ(named->ids, (std::vector<uint32_t>{5, 5, 7, 7, 5, 5, 7, 7}));
  // grass TP (IoU 1), red circle TP? IoU 2/4 = 0.5 is not > 0.5: FN + FP; star FN.
  // -> grass 1, circle 0, star 0: PQ 33.3.
  EXPECT_NEAR(PqOf(gt, *named), 100.0 / 3, 1e-9);
  // With the model's masks equal to the truth the oracle scores 100 whatever it said.
  PanopticImage same = gt;
  for (PanopticSegment& s : same.segments) s.category_id = 4;
  named = OracleClassPrediction(gt, same, Categories());
  ASSERT_TRUE(named.ok());
  EXPECT_DOUBLE_EQ(PqOf(gt, *named), 100.0);
  PanopticImage small = gt;
  small.width = 2;
  EXPECT_FALSE(OracleClassPrediction(gt, small, Categories()).ok());
}

TEST(RegionAccuracyTest, Top1ByGroupAndWordPositions) {
  RegionAccuracy a(Categories());
  ASSERT_TRUE(a.Add(1, 1).ok());                              // stuff, right
  ASSERT_TRUE(a.Add(2, 2).ok());                              // seen thing, right
  ASSERT_TRUE(a.Add(3, 2).ok());                              // "red striped star" as "red circle"
  ASSERT_TRUE(a.Add(4, 2).ok());                              // "blue circle" as "red circle"
  ASSERT_TRUE(a.Add(4, RegionAccuracy::kNoPrediction).ok());  // nothing predicted
  EXPECT_FALSE(a.Add(9, 1).ok());
  EXPECT_FALSE(a.Add(1, 9).ok());
  const nlohmann::json r = a.Report();
  EXPECT_DOUBLE_EQ(r["top1"]["all"]["percent"].get<double>(), 40.0);  // 2 of 5
  EXPECT_DOUBLE_EQ(r["top1"]["seen"]["percent"].get<double>(), 100.0);
  EXPECT_DOUBLE_EQ(r["top1"]["unseen"]["percent"].get<double>(), 0.0);
  EXPECT_EQ(r["top1"]["unseen"]["count"].get<int>(), 3);
  EXPECT_DOUBLE_EQ(r["top1"]["things"]["percent"].get<double>(), 25.0);
  EXPECT_DOUBLE_EQ(r["top1"]["stuff"]["percent"].get<double>(), 100.0);
  EXPECT_DOUBLE_EQ(r["top1"]["seen_things"]["percent"].get<double>(), 100.0);  // 1 of 1
  EXPECT_EQ(r["top1"]["unseen_things"]["count"].get<int>(), 3);
  const nlohmann::json& w = r["word_positions"];
  EXPECT_EQ(w["regions"].get<int>(), 4);  // the thing regions
  // colour right: red/red, red/red, blue/red, none -> 2 of 4; pattern ("" vs "striped"):
  // right, wrong, right, none -> 2; shape: right, wrong, right, none -> 2.
  EXPECT_DOUBLE_EQ(w["colour"].get<double>(), 50.0);
  EXPECT_DOUBLE_EQ(w["pattern"].get<double>(), 50.0);
  EXPECT_DOUBLE_EQ(w["shape"].get<double>(), 50.0);
  EXPECT_EQ(w["errors"]["colour_only"].get<int>(), 1);
  EXPECT_EQ(w["errors"]["several"].get<int>(), 1);  // pattern and shape
  EXPECT_EQ(w["errors"]["other"].get<int>(), 1);
  // Merging two halves equals adding everything to one.
  RegionAccuracy b(Categories()), c(Categories());
  ASSERT_TRUE(b.Add(1, 1).ok());
  ASSERT_TRUE(b.Add(2, 2).ok());
  ASSERT_TRUE(c.Add(3, 2).ok());
  ASSERT_TRUE(c.Add(4, 2).ok());
  ASSERT_TRUE(c.Add(4, RegionAccuracy::kNoPrediction).ok());
  b.Merge(c);
  EXPECT_EQ(b.Report(), r);
}

TEST(ProposalRecallTest, RecallAtCountsAndThresholds) {
  const PanopticImage gt = Truth();
  ProposalRecall recall(Categories());
  auto mask = [](std::vector<int> columns) {
    std::vector<uint8_t> m(8, 0);
    for (int x : columns) m[x] = m[4 + x] = 1;
    return m;
  };
  // Proposal 0 covers the circle and the star (IoU 0.5 with each); then 10 empty ones;
  // proposal 11 is the grass exactly (only within the first 50).
  std::vector<std::vector<uint8_t>> proposals = {mask({2, 3})};
  for (int i = 0; i < 10; ++i) proposals.push_back(mask({}));
  proposals.push_back(mask({0, 1}));
  ASSERT_TRUE(recall.Add(gt, proposals).ok());
  const nlohmann::json r = recall.Report();
  // K = 10: circle and star at IoU 0.5 (>= 0.5 counts), grass missed: 2 of 3.
  EXPECT_NEAR(r["AR@10_IoU0.50"]["all"]["percent"].get<double>(), 200.0 / 3, 1e-9);
  EXPECT_DOUBLE_EQ(r["AR@10_IoU0.75"]["all"]["percent"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(r["AR@50_IoU0.50"]["all"]["percent"].get<double>(), 100.0);
  EXPECT_NEAR(r["AR@50_IoU0.75"]["all"]["percent"].get<double>(), 100.0 / 3, 1e-9);
  EXPECT_DOUBLE_EQ(r["AR@50_IoU0.75"]["stuff"]["percent"].get<double>(), 100.0);
  EXPECT_DOUBLE_EQ(r["AR@50_IoU0.75"]["unseen"]["percent"].get<double>(), 0.0);
  EXPECT_NEAR(r["mean_best_iou"].get<double>(), 100.0 * 2.0 / 3.0, 1e-9);  // (1 + .5 + .5) / 3
  EXPECT_FALSE(recall.Add(gt, {std::vector<uint8_t>(3, 1)}).ok());
}

TEST(ProposalRecallTest, RecallByAreaUsesCocosBuckets) {
  // 140 x 100 of grass with a 10 x 10 red circle (100 px: small) and a 40 x 40 red striped
  // star (1600 px: medium); the grass (12 300 px) is large.
  PanopticImage gt;
  gt.name = "sizes.png";
  gt.width = 140;
  gt.height = 100;
  gt.ids.assign(140 * 100, 1);
  auto fill = [&](std::vector<uint8_t>* mask, uint32_t id, int x0, int y0, int size) {
    for (int y = y0; y < y0 + size; ++y) {
      for (int x = x0; x < x0 + size; ++x) {
        if (mask != nullptr) (*mask)[y * 140 + x] = 1;
        if (id != 0) gt.ids[y * 140 + x] = id;
      }
    }
  };
  fill(nullptr, 2, 0, 0, 10);
  fill(nullptr, 3, 50, 50, 40);
  gt.segments = {{1, 1, false, 12300, {}}, {2, 2, false, 100, {}}, {3, 3, false, 1600, {}}};
  // Proposals: the circle exactly and the grass exactly; the star is missed.
  std::vector<uint8_t> circle(140 * 100, 0), grass(140 * 100, 0);
  fill(&circle, 0, 0, 0, 10);
  for (size_t p = 0; p < grass.size(); ++p) grass[p] = gt.ids[p] == 1;
  ProposalRecall recall(Categories());
  ASSERT_TRUE(recall.Add(gt, {circle, grass}).ok());
  const nlohmann::json report = recall.Report();
  const nlohmann::json& by_area = report["AR@100_IoU0.50_by_area"];
  EXPECT_DOUBLE_EQ(by_area["small"]["things"]["percent"].get<double>(), 100.0);
  EXPECT_EQ(by_area["small"]["all"]["count"].get<int>(), 1);
  EXPECT_DOUBLE_EQ(by_area["medium"]["unseen_things"]["percent"].get<double>(), 0.0);
  EXPECT_EQ(by_area["medium"]["all"]["count"].get<int>(), 1);
  EXPECT_DOUBLE_EQ(by_area["large"]["stuff"]["percent"].get<double>(), 100.0);
  EXPECT_TRUE(by_area["large"]["things"]["percent"].is_null());
  const nlohmann::json& per_class = report["AR@100_IoU0.50_per_class"];
  EXPECT_EQ(per_class["red striped star"]["hits"].get<int>(), 0);
  EXPECT_EQ(per_class["red striped star"]["count"].get<int>(), 1);
  EXPECT_EQ(per_class["red circle"]["hits"].get<int>(), 1);
  // Merging keeps the buckets.
  ProposalRecall merged(Categories());
  merged.Merge(recall);
  EXPECT_EQ(merged.Report(), report);
}

TEST(CategoryGroupsTest, MeansSkipUndefinedAndUnknownSeen) {
  std::vector<CocoCategory> c = Categories();
  c[3].seen.reset();  // "blue circle": neither seen nor unseen
  const nlohmann::json m = GroupMeansPercent({{1, 0.5}, {2, 1.0}, {3, NAN}, {4, 0.0}}, c);
  EXPECT_DOUBLE_EQ(m["all"].get<double>(), 50.0);  // (0.5 + 1 + 0) / 3
  EXPECT_DOUBLE_EQ(m["seen"].get<double>(), 75.0);
  EXPECT_TRUE(m["unseen"].is_null());  // the only unseen class is undefined
  EXPECT_DOUBLE_EQ(m["things"].get<double>(), 50.0);
  EXPECT_DOUBLE_EQ(m["stuff"].get<double>(), 50.0);
  EXPECT_DOUBLE_EQ(m["seen_things"].get<double>(), 100.0);
  EXPECT_TRUE(m["unseen_things"].is_null());
}

TEST(RegionCropsTest, MaskedSquareCropsAroundEachSegment) {
  const PanopticImage gt = Truth();
  std::vector<uint8_t> rgb(8 * 3);
  for (size_t p = 0; p < 8; ++p) rgb[p * 3] = static_cast<uint8_t>(10 * p);
  const std::vector<RegionCrop> crops = CropRegions(rgb.data(), gt, CropStyle::kMasked);
  ASSERT_EQ(crops.size(), 3u);
  // The circle: a 1 x 2 box -> a 2 x 2 square starting one column left (column 1), whose
  // left column is grass, filled with CLIP's mean colour when masked.
  EXPECT_EQ(crops[1].category_id, 2);
  EXPECT_EQ(crops[1].size, 2);
  EXPECT_EQ(crops[1].rgb[0], 123);           // (row 0, column 1): grass, masked out
  EXPECT_EQ(crops[1].rgb[3], 20);            // (row 0, column 2): the circle's pixel
  EXPECT_EQ(crops[1].rgb[(2 + 1) * 3], 60);  // (row 1, column 2)
  const std::vector<RegionCrop> boxes = CropRegions(rgb.data(), gt, CropStyle::kBox);
  EXPECT_EQ(boxes[1].rgb[0], 10);  // context kept
  EXPECT_FALSE(ParseCropStyle("blurred").ok());
}

}  // namespace
}  // namespace ovseg
