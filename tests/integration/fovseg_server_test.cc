// Segment over gRPC on a real (tiny, random) FOV-Seg model built from config: CLIP weights
// in a safetensors file, the CLIP text encoder behind the vocabulary cache, the TeVA mask
// classifier over client-supplied regions, MaskFormer post-processing, real encoding.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "client/ovseg_client.h"
#include "common/coco_rle.h"
#include "common/sha256.h"
#include "model/clip/clip_model.h"
#include "model/clip/clip_weights.h"
#include "model/serving/fgaseg_checkpoint.h"
#include "model/serving/model_factory.h"
#include "model/weights/safetensors_file.h"
#include "server/config/config_loader.h"
#include "server/ovseg_server.h"
#include "tests/fakes/tiny_clip_file.h"
#include "tests/fakes/tiny_fgaseg_config.h"

namespace ovseg {
namespace {

using testing::WriteTinyClip;

struct Server {
  std::unique_ptr<OvsegServer> server;
  std::unique_ptr<OvsegClient> client;
};

Server Start(const std::string& extra_model_config = "") {
  static const std::string weights = WriteTinyClip();
  auto config = ParseServerConfig(
      "listen_address: \"127.0.0.1:0\" metrics_address: \"none\" log_requests: false "
      "batching { buckets { width: 64 height: 64 } max_queue_delay_us: 0 } "
      "admin { checkpoint_dir: \"" +
          ::testing::TempDir() +
          "/fovseg-ckpt\" } "
          "model { preset: \"fovseg-tiny\" clip_weights: \"" +
          weights + "\" clip_quick_gelu: true " + extra_model_config + "}",
      "test");
  EXPECT_TRUE(config.ok()) << config.status();
  absl::StatusOr<ServingModel> model = CreateServingModel(config->model());
  EXPECT_TRUE(model.ok()) << model.status();
  OvsegServerOptions o;
  o.config = *config;
  o.model.pipeline = model->pipeline;
  o.model.text_encoder = model->text_encoder;
  o.request_log = nullptr;
  auto server = OvsegServer::Start(std::move(o));
  EXPECT_TRUE(server.ok()) << server.status();
  Server s;
  s.server = *std::move(server);
  EXPECT_TRUE(s.server->WaitUntilServing(absl::Seconds(60)));  // Warm-up runs the model.
  s.client = std::make_unique<OvsegClient>(
      ClientOptions{"127.0.0.1:" + std::to_string(s.server->port()), "", absl::Seconds(60)});
  return s;
}

v1::SegmentRequest Request(v1::Task task) {
  v1::SegmentRequest r;
  v1::RawRgb8* raw = r.mutable_image()->mutable_raw_rgb8();
  raw->set_width(64);
  raw->set_height(64);
  std::string pixels(64 * 64 * 3, '\0');
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<char>((i * 37) % 251);
  raw->set_pixels(pixels);
  for (const char* label : {"cat", "dog", "grass,lawn"})
    r.mutable_labels()->add_labels()->set_name(label);
  r.set_task(task);
  r.mutable_options()->set_head_mode(v1::MASK);
  r.mutable_options()->set_score_threshold(0.0f);
  // Region 0: left half (RLE). Region 1: right half (PNG).
  std::vector<uint8_t> left(64 * 64, 0);
  for (int y = 0; y < 64; ++y) {
    for (int x = 0; x < 32; ++x) left[y * 64 + x] = 1;
  }
  const CocoRleMask rle = EncodeRle(left.data(), 64, 64);
  v1::CocoRle* proto_rle = r.add_regions()->mutable_rle();
  proto_rle->set_height(64);
  proto_rle->set_width(64);
  proto_rle->set_counts(RleCountsToString(rle.counts));
  cv::Mat right(64, 64, CV_8UC1, cv::Scalar(0));
  right(cv::Rect(32, 0, 32, 64)).setTo(255);
  std::vector<uchar> png;
  cv::imencode(".png", right, png);
  r.add_regions()->set_png(std::string(png.begin(), png.end()));
  return r;
}

TEST(FovSegServerTest, SegmentsClientRegionsForEveryTask) {
  Server s = Start();
  absl::StatusOr<v1::GetModelInfoResponse> info = s.client->GetModelInfo();
  ASSERT_TRUE(info.ok()) << info.status();

  absl::StatusOr<v1::SegmentResponse> semantic = s.client->Segment(Request(v1::SEMANTIC));
  ASSERT_TRUE(semantic.ok()) << semantic.status();
  EXPECT_EQ(semantic->image_width(), 64);
  EXPECT_GE(semantic->segments_size(), 1);
  EXPECT_LE(semantic->segments_size(), 2);  // One class per region at most.
  for (const auto& seg : semantic->segments()) {
    EXPECT_GE(seg.label_index(), 0);
    EXPECT_LT(seg.label_index(), 3);
    EXPECT_GT(seg.score(), 0.0f);
  }

  absl::StatusOr<v1::SegmentResponse> instance = s.client->Segment(Request(v1::INSTANCE));
  ASSERT_TRUE(instance.ok()) << instance.status();
  EXPECT_GE(instance->segments_size(), 1);

  v1::SegmentRequest panoptic = Request(v1::PANOPTIC);
  absl::StatusOr<v1::SegmentResponse> pan = s.client->Segment(panoptic);
  ASSERT_TRUE(pan.ok()) << pan.status();  // An untrained model may keep no segment.
}

TEST(FovSegServerTest, MissingOrBadRegionsArePreciseErrors) {
  Server s = Start();
  v1::SegmentRequest r = Request(v1::SEMANTIC);
  r.clear_regions();
  absl::StatusOr<v1::SegmentResponse> out = s.client->Segment(r);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(out.status().message()).find("send the regions to classify"),
            std::string::npos)
      << out.status();
  r = Request(v1::SEMANTIC);
  r.mutable_regions(0)->mutable_rle()->set_width(63);
  out = s.client->Segment(r);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(out.status().message()).find("regions[0].rle: 63x64 does not match"),
            std::string::npos)
      << out.status();
  r = Request(v1::SEMANTIC);
  r.mutable_regions(1)->set_png("not a png");
  out = s.client->Segment(r);
  EXPECT_NE(std::string(out.status().message()).find("regions[1].png"), std::string::npos)
      << out.status();
  r = Request(v1::SEMANTIC);
  r.mutable_options()->set_head_mode(v1::DENSE);
  out = s.client->Segment(r);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kFailedPrecondition) << out.status();
  EXPECT_NE(std::string(out.status().message()).find("FGAseg dense head"), std::string::npos)
      << out.status();
  // The server is still fine afterwards.
  EXPECT_TRUE(s.client->Segment(Request(v1::SEMANTIC)).ok());
}

// The `ovseg` command line with --regions (a PNG and a COCO RLE JSON file) against the
// same server: both regions are classified and written back as COCO results.
TEST(FovSegServerTest, CommandLineClassifiesRegionFiles) {
  Server s = Start();
  const std::string dir = ::testing::TempDir();
  cv::Mat image(64, 64, CV_8UC3, cv::Scalar(30, 120, 200));
  ASSERT_TRUE(cv::imwrite(dir + "/cli_image.png", image));
  cv::Mat right(64, 64, CV_8UC1, cv::Scalar(0));
  right(cv::Rect(32, 0, 32, 64)).setTo(255);
  ASSERT_TRUE(cv::imwrite(dir + "/cli_right.png", right));
  std::vector<uint8_t> left(64 * 64, 0);
  for (int y = 0; y < 64; ++y) std::fill_n(left.begin() + y * 64, 32, 1);
  const CocoRleMask rle = EncodeRle(left.data(), 64, 64);
  std::ofstream(dir + "/cli_left.json") << R"([{"segmentation": {"size": [64, 64], "counts": ")"
                                        << RleCountsToString(rle.counts) << R"("}}])";
  const std::string command = std::string(OVSEG_CLI_BINARY) +
                              " segment --server 127.0.0.1:" + std::to_string(s.server->port()) +
                              " --image " + dir + "/cli_image.png --labels cat,dog" +
                              " --task instance --mode mask --score_threshold 0 --regions " + dir +
                              "/cli_left.json," + dir + "/cli_right.png --json " + dir +
                              "/cli_out.json > " + dir + "/cli_stdout.txt 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  std::ifstream in(dir + "/cli_out.json");
  const nlohmann::json results = nlohmann::json::parse(in);
  // Instance pairs: 2 regions x 2 labels, each region's mask is exactly the region.
  ASSERT_EQ(results.size(), 4u) << results.dump();
  for (const nlohmann::json& r : results) EXPECT_EQ(r["area"], 64 * 32) << r.dump();
  // A region file that does not exist is a clear error, not a request.
  const std::string bad = std::string(OVSEG_CLI_BINARY) +
                          " segment --server 127.0.0.1:" + std::to_string(s.server->port()) +
                          " --image " + dir + "/cli_image.png --labels cat --regions " + dir +
                          "/absent.json > " + dir + "/cli_bad.txt 2>&1";
  EXPECT_NE(std::system(bad.c_str()), 0);
  std::ifstream bad_out(dir + "/cli_bad.txt");
  const std::string message((std::istreambuf_iterator<char>(bad_out)), {});
  EXPECT_NE(message.find("cannot read region file"), std::string::npos) << message;
  // A misspelled value or flag is refused, not replaced by a default the user did not ask
  // for (a misspelled --task used to become semantic).
  const std::string base = std::string(OVSEG_CLI_BINARY) +
                           " segment --server 127.0.0.1:" + std::to_string(s.server->port()) +
                           " --image " + dir + "/cli_image.png --labels cat ";
  for (const auto& [extra, expected] :
       {std::pair<std::string, std::string>{"--task panoptik", "--task: panoptik not in"},
        {"--mode fusd", "--mode: fusd not in"},
        {"--timeout_s soon", "--timeout_s: \"soon\""},
        {"--treshold 0.5", "--treshold"}}) {
    const std::string refused = base + extra + " > " + dir + "/cli_refused.txt 2>&1";
    EXPECT_NE(std::system(refused.c_str()), 0) << refused;
    std::ifstream refused_out(dir + "/cli_refused.txt");
    const std::string text((std::istreambuf_iterator<char>(refused_out)), {});
    EXPECT_NE(text.find(expected), std::string::npos) << extra << ": " << text;
  }
}

// A checkpoint that holds an FGAseg head: the server offers DENSE and FUSED, answers a
// DENSE request without regions from the dense head alone, and a FUSED (or unspecified)
// one over the regions with both heads.
std::string WriteCheckpointWithHead() {
  const std::string clip_path = WriteTinyClip();  // the same file Start() serves
  ClipLoadOptions options;
  options.quick_gelu = true;
  absl::StatusOr<ClipModel> clip = LoadClipModel(clip_path, options);
  EXPECT_TRUE(clip.ok()) << clip.status();
  torch::manual_seed(6);
  MaskClassifier classifier((*clip)->visual, 32, MaskClassifierConfig{});
  FgaSegConfig head_config = testing::TinyFgaSegConfig();
  head_config.clip_width = 64;
  head_config.guidance_layers = {0, 0};
  FgaSegHead head(head_config);
  CheckpointMetadata metadata;
  metadata.preset = "fovseg-tiny";
  metadata.clip_sha256 = ClipWeightsFingerprint(*clip);
  metadata.step = 7;
  metadata.training_vocabulary = {"cat", "lawn"};
  const std::string path = ::testing::TempDir() + "/with_head.safetensors";
  EXPECT_TRUE(WriteCheckpointWithFgaSeg(path, classifier, head, metadata).ok());
  return path;
}

TEST(FovSegServerTest, DenseAndFusedModesWithTheCheckpointsHead) {
  const std::string checkpoint = WriteCheckpointWithHead();
  Server s = Start("checkpoint: \"" + checkpoint + "\" dense_top_k: 2 ");
  absl::StatusOr<v1::GetModelInfoResponse> info = s.client->GetModelInfo();
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_EQ(info->head_modes_size(), 3);
  EXPECT_EQ(info->head_modes(1), v1::DENSE);
  // The config's checkpoint serves under its digest's id.
  std::ifstream file(checkpoint, std::ios::binary);
  EXPECT_EQ(info->model_version(),
            VersionIdOfDigest(Sha256Hex(std::string(std::istreambuf_iterator<char>(file), {}))));

  v1::SegmentRequest dense = Request(v1::SEMANTIC);
  dense.clear_regions();
  dense.mutable_options()->set_head_mode(v1::DENSE);
  dense.mutable_options()->set_return_semantic_map(true);
  absl::StatusOr<v1::SegmentResponse> out = s.client->Segment(dense);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_FALSE(out->segments().empty());
  EXPECT_FALSE(out->semantic_map_png().empty());
  for (v1::HeadMode mode : {v1::FUSED, v1::HEAD_MODE_UNSPECIFIED}) {
    v1::SegmentRequest fused = Request(v1::INSTANCE);
    fused.mutable_options()->set_head_mode(mode);
    out = s.client->Segment(fused);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_FALSE(out->segments().empty());
  }
  // DENSE has no panoptic answer; the server says so before any work.
  dense.set_task(v1::PANOPTIC);
  EXPECT_EQ(s.client->Segment(dense).status().code(), absl::StatusCode::kInvalidArgument);
  s.server->Shutdown(absl::Seconds(5));
}

}  // namespace
}  // namespace ovseg
