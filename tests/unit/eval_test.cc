// Evaluation against the reference implementations' own numbers (tests/data/eval, from
// scripts/testdata/make_eval_reference.py: panopticapi's pq_compute, detectron2's
// SemSegEvaluator formulas), panopticapi's rules one by one on hand-made images, and the
// formats' readers and writers with every problem named.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "datasets/coco_panoptic.h"
#include "datasets/label_png.h"
#include "evaluation/file_evaluation.h"

namespace ovseg {
namespace {

std::string DataDir() {
  const char* root = std::getenv("OVSEG_SOURCE_DIR");
  return std::string(root ? root : ".") + "/tests/data/eval";
}

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

void ExpectSameNumbers(const nlohmann::json& got, const nlohmann::json& expected,
                       const std::string& where) {
  if (expected.is_object()) {
    for (const auto& [key, value] : expected.items()) {
      ASSERT_TRUE(got.contains(key)) << where << "." << key;
      ExpectSameNumbers(got[key], value, where + "." + key);
    }
  } else if (expected.is_null()) {
    EXPECT_TRUE(got.is_null()) << where << " = " << got;
  } else {
    ASSERT_TRUE(got.is_number()) << where << " = " << got;
    EXPECT_NEAR(got.get<double>(), expected.get<double>(), 1e-9) << where;
  }
}

TEST(PanopticQualityTest, EqualsPanopticapiOnTheReferenceSet) {
  const std::string dir = DataDir() + "/panoptic";
  for (int threads : {1, 3}) {
    absl::StatusOr<PanopticQuality> pq = EvaluatePanopticFiles(
        {dir + "/gt.json", dir + "/gt", dir + "/pred.json", dir + "/pred"}, threads);
    ASSERT_TRUE(pq.ok()) << pq.status();
    const nlohmann::json got = PanopticReportJson(*pq);
    ExpectSameNumbers(got, ReadJson(dir + "/expected.json"), "panoptic");
    EXPECT_EQ(got["per_class"]["7"]["name"], "dog");
  }
}

TEST(SemanticMetricsTest, EqualDetectron2OnTheReferenceSets) {
  for (const auto& [name, classes, ignore] :
       {std::tuple<const char*, int, int>{"semantic8", 5, 255}, {"semantic16", 300, 65535}}) {
    const std::string dir = DataDir() + "/" + name;
    absl::StatusOr<SemanticMetrics> m =
        EvaluateSemanticFiles({dir + "/gt", dir + "/pred", classes, ignore}, 2);
    ASSERT_TRUE(m.ok()) << m.status();
    const nlohmann::json got = SemanticReportJson(*m);
    ExpectSameNumbers(got, ReadJson(dir + "/expected.json"), name);
    // Without --ignore the maps' own convention applies (255 / 65535): the same numbers.
    absl::StatusOr<SemanticMetrics> by_depth =
        EvaluateSemanticFiles({dir + "/gt", dir + "/pred", classes, -1}, 2);
    ASSERT_TRUE(by_depth.ok()) << by_depth.status();
    EXPECT_EQ(SemanticReportJson(*by_depth), got);
  }
}

// A width x 1 image from a string of segment ids ('0' = VOID), for rules by hand.
PanopticImage Row(const std::string& pixels, std::vector<PanopticSegment> segments) {
  PanopticImage image;
  image.name = "row";
  image.width = static_cast<int>(pixels.size());
  image.height = 1;
  for (char c : pixels) image.ids.push_back(static_cast<uint32_t>(c - '0'));
  if (!segments.empty()) ComputeAreasAndBoxes(image.width, 1, image.ids, &segments);
  image.segments = std::move(segments);
  return image;
}

std::vector<PanopticCategory> TwoCategories() { return {{1, "person", true}, {2, "grass", false}}; }

TEST(PanopticQualityTest, MatchesNeedIouAboveHalfWithVoidLeftOutOfTheUnion) {
  PanopticQuality pq(TwoCategories());
  // gt 1: 4 px; pred 1 covers 2 of them + 2 VOID px: union = 4 + 4 - 2 - 2 = 4, IoU 0.5,
  // not > 0.5: no match.
  ASSERT_TRUE(pq.Add(Row("111100", {{1, 1}}), Row("001111", {{1, 1}})).ok());
  EXPECT_EQ(pq.stats().at(1).tp, 0);
  EXPECT_EQ(pq.stats().at(1).fn, 1);
  // Unmatched, and exactly half of it on VOID: ignoring needs more than half, so a FP.
  EXPECT_EQ(pq.stats().at(1).fp, 1);
}

TEST(PanopticQualityTest, CrowdAndVoidExcuseUnmatchedPredictions) {
  PanopticQuality pq(TwoCategories());
  // gt: grass 1..4, crowd person 5..7 (ids 2, 3). pred: grass matches; a person mostly in
  // the crowd region is ignored; a grass blob mostly in VOID is ignored.
  PanopticImage gt = Row("22223330000", {{2, 2}, {3, 1, true}});
  PanopticImage pred = Row("44445560077", {{4, 2}, {5, 1}, {6, 1}, {7, 2}});
  ASSERT_TRUE(pq.Add(gt, pred).ok());
  EXPECT_EQ(pq.stats().at(2).tp, 1);
  EXPECT_EQ(pq.stats().at(2).fp, 0);
  EXPECT_EQ(pq.stats().count(1) ? pq.stats().at(1).fp : 0, 0);
  EXPECT_EQ(pq.stats().count(1) ? pq.stats().at(1).fn : 0, 0);  // crowd is never a miss
  const PqReport r = pq.Report();
  EXPECT_EQ(r.stuff.n, 1);
  EXPECT_NEAR(r.stuff.pq, 1.0, 1e-12);
  EXPECT_EQ(r.things.n, 0);  // no thing counted: 0, where panopticapi divides by zero
}

TEST(PanopticQualityTest, OnlyTheLastCrowdRegionOfACategoryExcuses) {
  PanopticQuality pq(TwoCategories());
  // Two crowd person regions (ids 1 then 2); a person on the first is a false positive,
  // as panopticapi keeps one crowd id per category, the last in the JSON.
  ASSERT_TRUE(pq.Add(Row("1122", {{1, 1, true}, {2, 1, true}}), Row("3300", {{3, 1}})).ok());
  EXPECT_EQ(pq.stats().at(1).fp, 1);
  PanopticQuality on_last(TwoCategories());
  ASSERT_TRUE(on_last.Add(Row("1122", {{1, 1, true}, {2, 1, true}}), Row("0033", {{3, 1}})).ok());
  EXPECT_EQ(on_last.stats().count(1), 0u);
}

TEST(PanopticQualityTest, InconsistentPredictionsAreNamedErrors) {
  PanopticQuality pq(TwoCategories());
  const PanopticImage gt = Row("1111", {{1, 1}});
  absl::Status s = pq.Add(gt, Row("1111", {}));
  EXPECT_NE(s.message().find("segment id 1 is in the PNG but not in the JSON"), std::string::npos)
      << s;
  PanopticImage only_json = Row("0000", {});
  only_json.segments = {{5, 1}};
  s = pq.Add(gt, only_json);
  EXPECT_NE(s.message().find("segment id 5 is in the JSON but not in the PNG"), std::string::npos)
      << s;
  s = pq.Add(gt, Row("1111", {{1, 9}}));
  EXPECT_NE(s.message().find("unknown category_id 9"), std::string::npos) << s;
  s = pq.Add(gt, Row("11", {{1, 1}}));
  EXPECT_NE(s.message().find("is 2x1, ground truth row is 4x1"), std::string::npos) << s;
}

TEST(SemanticMetricsTest, ValuesOutsideTheClassesAreNamedErrors) {
  SemanticMetrics m(3, 255);
  EXPECT_TRUE(m.Add("a.png", {0, 1, 2}, {0, 255, 2}).ok());
  absl::Status s = m.Add("b.png", {0, 3}, {0, 1});
  EXPECT_NE(s.message().find("b.png: predicted value 3 is outside 0..2"), std::string::npos) << s;
  s = m.Add("c.png", {0, 1}, {0, 7});
  EXPECT_NE(s.message().find("c.png: ground-truth value 7"), std::string::npos) << s;
  // Only the valid image counted: class 1 is absent from the ground truth (NaN IoU).
  const SemanticReport r = m.Report();
  EXPECT_TRUE(std::isnan(r.iou[1]));
  EXPECT_DOUBLE_EQ(r.miou, 1.0);
  EXPECT_DOUBLE_EQ(r.pacc, 1.0);
}

TEST(CocoPanopticTest, RoundTripsAndNamesProblems) {
  const std::string dir = ::testing::TempDir() + "/coco_rt";
  std::filesystem::create_directories(dir);
  std::vector<uint32_t> ids = {0, 1, 1, 70000, 70000, 70000};
  ASSERT_TRUE(WritePanopticPng(dir + "/a.png", 3, 2, ids).ok());
  CocoPanoptic d;
  d.categories = {{{1, "red striped triangle", true}, {"red triangle"}}, {{2, "sky", false}, {}}};
  d.images = {{5, "a.jpg", 3, 2}};
  CocoPanopticAnnotation a{5, "a.png", {{1, 1}, {70000, 2}}};
  ComputeAreasAndBoxes(3, 2, ids, &a.segments);
  EXPECT_EQ(a.segments[1].area, 3);
  EXPECT_EQ(a.segments[1].bbox[0], 0);
  EXPECT_EQ(a.segments[1].bbox[2], 3);
  d.annotations = {a};
  ASSERT_TRUE(WriteCocoPanopticJson(dir + "/d.json", d).ok());
  absl::StatusOr<CocoPanoptic> back = ReadCocoPanopticJson(dir + "/d.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->categories[0].synonyms, std::vector<std::string>{"red triangle"});
  EXPECT_TRUE(back->categories[0].category.isthing);
  absl::StatusOr<PanopticImage> image = ReadPanopticPng(dir, back->annotations[0]);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->ids, ids);  // 70000 = R + 256 G + 256^2 B survives the channels

  std::ofstream(dir + "/bad.json") << R"({"annotations": [{"image_id": 1, "file_name": "x.png",
      "segments_info": [{"id": 3}]}]})";
  absl::Status s = ReadCocoPanopticJson(dir + "/bad.json").status();
  EXPECT_NE(s.message().find("annotations[0].segments_info[0]: no \"category_id\""),
            std::string::npos)
      << s;
  s = ReadPanopticPng(dir, {1, "absent.png", {}}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  std::ofstream(dir + "/junk.png") << "not a png";
  s = ReadPanopticPng(dir, {1, "junk.png", {}}).status();
  EXPECT_NE(s.message().find("not a readable PNG"), std::string::npos) << s;
}

TEST(LabelPngTest, EightAndSixteenBitRoundTrip) {
  const std::string dir = ::testing::TempDir();
  LabelMap small{2, 2, 8, {0, 3, 255, 7}};
  ASSERT_TRUE(WriteLabelPng(dir + "/l8.png", small).ok());
  absl::StatusOr<LabelMap> back = ReadLabelPng(dir + "/l8.png");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->bits, 8);
  EXPECT_EQ(back->labels, small.labels);
  LabelMap wide{2, 1, 8, {846, 65535}};
  ASSERT_TRUE(WriteLabelPng(dir + "/l16.png", wide).ok());
  back = ReadLabelPng(dir + "/l16.png");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->bits, 16);
  EXPECT_EQ(DefaultIgnoreLabel(back->bits), 65535);
  EXPECT_EQ(back->labels, wide.labels);
}

TEST(ProgressTest, PlainLinesInLogs) {
  std::FILE* f = std::tmpfile();
  Progress p("eval", 20, f, /*terminal=*/0);
  for (int i = 0; i < 20; ++i) p.Advance(1, "PQ 12.5");
  p.Finish();
  std::rewind(f);
  char buffer[4096];
  const size_t n = std::fread(buffer, 1, sizeof(buffer) - 1, f);
  buffer[n] = 0;
  std::fclose(f);
  const std::string text(buffer);
  EXPECT_NE(text.find("eval: 20/20 (100%)"), std::string::npos) << text;
  EXPECT_NE(text.find("PQ 12.5"), std::string::npos);
  EXPECT_EQ(text.find('\r'), std::string::npos);  // no terminal redraws in a log
  EXPECT_EQ(Progress::FormatDuration(absl::Seconds(3723)), "1:02:03");
  EXPECT_EQ(Progress::FormatDuration(absl::Seconds(65)), "1:05");
}

// The command line on the reference set: the JSON it writes holds panopticapi's numbers,
// and bad input is a message and exit 1, not a crash.
TEST(OvsegEvalCommandTest, PanopticAndSemanticReports) {
  const std::string dir = DataDir(), out = ::testing::TempDir() + "/eval_report.json";
  const std::string panoptic = std::string(OVSEG_EVAL_BINARY) + " panoptic --gt-json " + dir +
                               "/panoptic/gt.json --gt-dir " + dir + "/panoptic/gt --pred-json " +
                               dir + "/panoptic/pred.json --pred-dir " + dir +
                               "/panoptic/pred --json-out " + out + " > /dev/null";
  ASSERT_EQ(std::system(panoptic.c_str()), 0);
  ExpectSameNumbers(ReadJson(out), ReadJson(dir + "/panoptic/expected.json"), "cli");
  const std::string semantic =
      std::string(OVSEG_EVAL_BINARY) + " semantic --gt-dir " + dir + "/semantic16/gt --pred-dir " +
      dir + "/semantic16/pred --num-classes 300 --json-out " + out + " > /dev/null";
  ASSERT_EQ(std::system(semantic.c_str()), 0);
  ExpectSameNumbers(ReadJson(out), ReadJson(dir + "/semantic16/expected.json"), "cli");
  const std::string wrong = std::string(OVSEG_EVAL_BINARY) + " semantic --gt-dir " + dir +
                            "/semantic16/gt --pred-dir " + dir +
                            "/semantic16/pred --num-classes 3 2> " + out;
  EXPECT_EQ(WEXITSTATUS(std::system(wrong.c_str())), 1);
  std::ifstream message(out);
  const std::string text((std::istreambuf_iterator<char>(message)), {});
  EXPECT_NE(text.find("is outside 0..2"), std::string::npos) << text;
}

}  // namespace
}  // namespace ovseg
