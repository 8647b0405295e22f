// The README's main job on the embedded default, as scripts/demo.sh runs it: the
// ovseg-server binary starts on configs/server.pbtxt (the committed demo model in
// models/demo/), reports SERVING, serves /metrics (a process linking LibTorch's CUDA
// libraries once could not start its metrics threads), and the ovseg CLI segments a
// freshly generated scene for a vocabulary with unseen classes, writing the overlay PNG
// and the JSON; `ovseg-eval analyse` runs the whole stage analysis (oracles, proposal
// recall through task PROPOSALS, CLIP alone on crops through ovseg-embed) on the live
// server and the demo CLIP.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "datasets/synth/synth_dataset.h"

namespace ovseg {
namespace {

namespace fs = std::filesystem;

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// GET /metrics over plain HTTP/1.0; the whole response ("" on failure).
std::string FetchMetrics(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    const std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) response.append(buffer, n);
    }
  }
  close(fd);
  return response;
}

TEST(DemoModelTest, TheMainJobServesTheEmbeddedDefault) {
  const char* source = std::getenv("OVSEG_SOURCE_DIR");
  ASSERT_NE(source, nullptr) << "OVSEG_SOURCE_DIR must point at the repository";
  const std::string root = ::testing::TempDir() + "/demo_model";
  fs::remove_all(root);
  SynthDatasetOptions scene;
  scene.out_dir = root + "/world";
  scene.num_train = 0;
  scene.num_val = 1;
  scene.seed = 7;
  scene.threads = 1;
  ASSERT_TRUE(WriteSynthDataset(scene).ok());

  // Every class the scene shows, and whether training ever segmented it.
  const nlohmann::json vocabulary =
      nlohmann::json::parse(ReadWhole(root + "/world/vocabulary.json"));
  const nlohmann::json truth = nlohmann::json::parse(ReadWhole(root + "/world/val/panoptic.json"));
  std::set<int> shown;
  for (const auto& s : truth["annotations"][0]["segments_info"])
    shown.insert(s["category_id"].get<int>());
  std::string labels;
  int unseen = 0;
  std::set<std::string> names;
  for (const auto& c : vocabulary["classes"]) {
    if (!shown.contains(c["id"].get<int>())) continue;
    labels += (labels.empty() ? "" : ",") + c["name"].get<std::string>();
    names.insert(c["name"].get<std::string>());
    unseen += c["seen"].get<int>() == 0;
  }
  EXPECT_GT(unseen, 0) << "the demo scene should show unseen classes: " << labels;

  const std::string server_log = root + "/server.txt";
  const std::string start =
      "cd " + std::string(source) + " && " + OVSEG_SERVER_BINARY +
      " --config configs/server.pbtxt --port 0 --metrics_port 0 --http_port 0 2> " + server_log +
      " & echo $! > " + root + "/server.pid";
  ASSERT_EQ(std::system(start.c_str()), 0);
  int port = 0, metrics_port = 0, http_port = 0;
  const std::regex listening(
      "listening on port ([0-9]+), metrics on port ([0-9]+), HTTP on port ([0-9]+)");
  for (int i = 0; i < 240 && port == 0; ++i) {
    std::smatch m;
    const std::string text = ReadWhole(server_log);
    if (std::regex_search(text, m, listening)) {
      port = std::stoi(m[1]);
      metrics_port = std::stoi(m[2]);
      http_port = std::stoi(m[3]);
    } else if (text.find("ovseg-server: ") != std::string::npos &&
               text.find("LibTorch") == std::string::npos) {
      break;  // an error line before the runtime line
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  const std::string pid = ReadWhole(root + "/server.pid");
  // Stops the server however the test ends (a failed ASSERT returns early, and a server
  // left running keeps ctest waiting on its output).
  struct KillOnExit {
    std::string pid;
    ~KillOnExit() { std::system(("kill " + pid + " 2> /dev/null").c_str()); }
  } stop_server{pid};
  ASSERT_GT(port, 0) << ReadWhole(server_log);
  EXPECT_GT(metrics_port, 0);

  const std::string address = " --server 127.0.0.1:" + std::to_string(port);
  // Warm-up runs after the ports open; wait for readiness as a readiness probe would (on a
  // busy CI machine warm-up takes seconds).
  const std::string health = std::string(OVSEG_CLI_BINARY) + " health --wait_s 180" + address;
  EXPECT_EQ(std::system(health.c_str()), 0);
  // The embedded default is served with the prompt templates its checkpoint was trained
  // with (configs/server.pbtxt and configs/train_demo.pbtxt agree).
  EXPECT_EQ(ReadWhole(server_log).find("trained with prompt templates"), std::string::npos)
      << ReadWhole(server_log);
  const std::string segment = std::string(OVSEG_CLI_BINARY) + " segment" + address + " --image " +
                              root + "/world/val/images/000001.jpg --labels \"" + labels +
                              "\" --task panoptic --out " + root + "/overlay.png --json " + root +
                              "/result.json > " + root + "/cli.txt 2>&1";
  const int rc = std::system(segment.c_str());
  EXPECT_EQ(rc, 0) << ReadWhole(root + "/cli.txt");
  EXPECT_GT(fs::file_size(root + "/overlay.png"), 0u);
  const nlohmann::json result = nlohmann::json::parse(ReadWhole(root + "/result.json"));
  // COCO results: one record per segment, with its label and RLE mask.
  ASSERT_TRUE(result.is_array() && !result.empty()) << result.dump();
  for (const auto& s : result) {
    EXPECT_TRUE(s.contains("segmentation")) << s.dump();
    EXPECT_TRUE(names.contains(s["label"].get<std::string>())) << s.dump();
  }
  // The demo point: every object and texture the scene shows is found and named, the
  // unseen ones included (docs/results.md, "Seen-only generator data").
  std::set<std::string> found;
  for (const auto& s : result) found.insert(s["label"].get<std::string>());
  EXPECT_EQ(found, names) << result.dump();
  EXPECT_NE(FetchMetrics(metrics_port).find("ovseg_requests_total"), std::string::npos);

  // The same request through the HTTP gateway, as `curl -F` sends it: the same answer.
  ASSERT_GT(http_port, 0);
  httplib::Client http("127.0.0.1", http_port);
  http.set_read_timeout(60);
  httplib::Result r = http.Post(
      "/v1/segment",
      httplib::MultipartFormDataItems{
          {"image", ReadWhole(root + "/world/val/images/000001.jpg"), "a.jpg", "image/jpeg"},
          {"labels", labels, "", ""},
          {"task", "panoptic", "", ""}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const nlohmann::json via_http = nlohmann::json::parse(r->body);
  ASSERT_EQ(via_http["segments"].size(), result.size()) << r->body;
  for (size_t i = 0; i < result.size(); ++i) {
    EXPECT_EQ(via_http["segments"][i]["label"], result[i]["label"]);
  }

  // The stage analysis on three more images, as docs/analysis.md runs it.
  SynthDatasetOptions small;
  small.out_dir = root + "/analysis";
  small.num_train = 0;
  small.num_val = 3;
  small.seed = 11;
  small.threads = 1;
  ASSERT_TRUE(WriteSynthDataset(small).ok());
  const std::string val = root + "/analysis/val";
  const std::string analyse =
      std::string(OVSEG_EVAL_BINARY) + " analyse" + address + " --gt-json " + val +
      "/panoptic.json --gt-dir " + val + "/panoptic --image-dir " + val + "/images --clip " +
      std::string(source) + "/models/demo/clip.safetensors --clip-quick-gelu false --json-out " +
      root + "/analysis.json > " + root + "/analysis.txt 2>&1";
  ASSERT_EQ(std::system(analyse.c_str()), 0) << ReadWhole(root + "/analysis.txt");
  const nlohmann::json report = nlohmann::json::parse(ReadWhole(root + "/analysis.json"));
  int64_t regions = 0;
  const nlohmann::json small_truth = nlohmann::json::parse(ReadWhole(val + "/panoptic.json"));
  for (const auto& a : small_truth["annotations"]) regions += a["segments_info"].size();
  EXPECT_EQ(report["images"].get<int>(), 3);
  EXPECT_EQ(report["oracle_masks"]["regions"]["top1"]["all"]["count"].get<int64_t>(), regions);
  EXPECT_EQ(report["clip_crops"]["top1"]["all"]["count"].get<int64_t>(), regions);
  EXPECT_EQ(report["proposal_recall"]["segments"].get<int64_t>(), regions);
  // The demo generator proposes at most 50 masks: recall with 100 equals recall with 50.
  EXPECT_EQ(report["proposal_recall"]["AR@100_IoU0.50"],
            report["proposal_recall"]["AR@50_IoU0.50"]);
  for (const char* section : {"end_to_end", "oracle_masks", "oracle_classifier"}) {
    EXPECT_TRUE(report[section]["PQ"]["all"].is_number()) << report.dump();
    EXPECT_TRUE(report[section]["mIoU"]["seen"].is_number()) << report.dump();
  }
}

}  // namespace
}  // namespace ovseg
