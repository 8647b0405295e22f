// ovseg-eval against a live server (a real gRPC server with the fake pipeline): every
// image goes out with the dataset's vocabulary, the replies are scored, and the
// predictions it writes score the same through the file path; semantic maps too.
#include <gtest/gtest.h>

#include <filesystem>

#include "datasets/coco_panoptic.h"
#include "datasets/synth/synth_dataset.h"
#include "evaluation/file_evaluation.h"
#include "evaluation/server_analysis.h"
#include "evaluation/server_evaluation.h"
#include "server/config/config_loader.h"
#include "server/ovseg_server.h"
#include "tests/fakes/fake_model_server.h"

namespace ovseg {
namespace {

namespace fs = std::filesystem;

TEST(ServerEvaluationTest, LiveRepliesScoreLikeTheirFiles) {
  const std::string world = ::testing::TempDir() + "/eval_world";
  fs::remove_all(world);
  SynthDatasetOptions synth;
  synth.out_dir = world;
  synth.num_train = 0;
  synth.num_val = 6;
  synth.scene.min_size = 64;
  synth.scene.max_size = 96;
  ASSERT_TRUE(WriteSynthDataset(synth).ok());

  auto config = ParseServerConfig(
      "listen_address: \"127.0.0.1:0\" metrics_address: \"none\" log_requests: false "
      "batching { buckets { width: 96 height: 96 } } limits { max_segments: 200 } "
      "postprocess { max_segments: 200 } "
      "admin { checkpoint_dir: \"" +
          ::testing::TempDir() + "/eval_ckpt\" }",
      "test");
  ASSERT_TRUE(config.ok()) << config.status();
  auto server = testing::StartFakeModelServer(*config);
  ASSERT_TRUE(server.ok()) << server.status();

  ServerEvalOptions live;
  live.server = "127.0.0.1:" + std::to_string((*server)->port());
  live.concurrency = 3;
  live.pred_out_dir = world + "/pred";
  const std::string val = world + "/val";
  absl::StatusOr<PanopticQuality> pq =
      EvaluatePanopticOnServer(val + "/panoptic.json", val + "/panoptic", val + "/images", live);
  ASSERT_TRUE(pq.ok()) << pq.status();
  int64_t predictions = 0;
  for (const auto& [category, s] : pq->stats()) predictions += s.tp + s.fp;
  EXPECT_GT(predictions, 0);  // the replies were read as segments
  absl::StatusOr<PanopticQuality> rescored =
      EvaluatePanopticFiles({val + "/panoptic.json", val + "/panoptic", world + "/pred/pred.json",
                             world + "/pred/panoptic"},
                            2);
  ASSERT_TRUE(rescored.ok()) << rescored.status();
  EXPECT_EQ(PanopticReportJson(*rescored), PanopticReportJson(*pq));

  absl::StatusOr<SemanticMetrics> semantic = EvaluateSemanticOnServer(
      val + "/panoptic.json", val + "/images", val + "/semantic", 255, live);
  ASSERT_TRUE(semantic.ok()) << semantic.status();
  EXPECT_EQ(semantic->num_classes(), 134);
  EXPECT_FALSE(std::isnan(semantic->Report().pacc));

  // A server that is not there is a precise error, not a hang.
  live.server = "127.0.0.1:1";
  live.timeout = absl::Seconds(2);
  const absl::Status down =
      EvaluatePanopticOnServer(val + "/panoptic.json", val + "/panoptic", val + "/images", live)
          .status();
  EXPECT_FALSE(down.ok());
  EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable) << down;
  EXPECT_NE(down.message().find("/val/images/0000"), std::string::npos) << down;  // which image

  // The stage analysis over the same live server: every section, every region counted
  // once, the seen/unseen split from the synthetic world's "seen" fields.
  live.server = "127.0.0.1:" + std::to_string((*server)->port());
  live.timeout = absl::Seconds(60);
  ServerAnalysisOptions analysis;
  analysis.server = live;
  analysis.max_images = 4;
  absl::StatusOr<nlohmann::json> report =
      AnalyseOnServer(val + "/panoptic.json", val + "/panoptic", val + "/images", analysis);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ((*report)["images"].get<int>(), 4);
  for (const char* section : {"end_to_end", "oracle_masks", "oracle_classifier"}) {
    for (const char* metric : {"PQ", "mIoU"}) {
      ASSERT_TRUE((*report)[section][metric].contains("unseen")) << section << " " << metric;
      const nlohmann::json& all = (*report)[section][metric]["all"];
      ASSERT_TRUE(all.is_number()) << section << " " << metric << " " << report->dump();
      EXPECT_GE(all.get<double>(), 0.0);
      EXPECT_LE(all.get<double>(), 100.0);
    }
  }
  // The PANOPTIC answer read as a label map: a second end-to-end mIoU beside the SEMANTIC
  // task's, split the same way.
  const nlohmann::json& from_panoptic = (*report)["end_to_end"]["from_panoptic"]["mIoU"];
  ASSERT_TRUE(from_panoptic.contains("unseen")) << report->dump();
  ASSERT_TRUE(from_panoptic["all"].is_number()) << report->dump();
  EXPECT_GE(from_panoptic["all"].get<double>(), 0.0);
  EXPECT_LE(from_panoptic["all"].get<double>(), 100.0);
  absl::StatusOr<CocoPanoptic> truth = ReadCocoPanopticJson(val + "/panoptic.json");
  ASSERT_TRUE(truth.ok());
  int64_t regions = 0;
  for (size_t i = 0; i < 4; ++i) {
    for (const PanopticSegment& s : truth->annotations[i].segments) regions += !s.iscrowd;
  }
  const nlohmann::json& top1 = (*report)["oracle_masks"]["regions"]["top1"];
  EXPECT_EQ(top1["all"]["count"].get<int64_t>(), regions);
  EXPECT_EQ(top1["seen"]["count"].get<int64_t>() + top1["unseen"]["count"].get<int64_t>(), regions);
  EXPECT_EQ((*report)["proposal_recall"]["segments"].get<int64_t>(), regions);
  // The oracle classifier can only help: naming the same masks right never scores lower.
  EXPECT_GE((*report)["oracle_classifier"]["PQ"]["all"].get<double>(),
            (*report)["end_to_end"]["PQ"]["all"].get<double>());
  analysis.proposals = false;
  report = AnalyseOnServer(val + "/panoptic.json", val + "/panoptic", val + "/images", analysis);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->contains("proposal_recall"));
  (*server)->Shutdown(absl::Seconds(5));
}

}  // namespace
}  // namespace ovseg
