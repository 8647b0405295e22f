// Live checkpoint swaps on a real server with a real (tiny, random) model: checkpoints
// submitted over ModelAdmin while clients keep segmenting are validated, warmed up and
// swapped in with no failed request; corrupt, truncated, wrong-base and wrong-shape ones
// are refused while the old model keeps serving; rollback activates an older one; the
// watched directory ignores a checkpoint until its completion marker exists.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <set>
#include <thread>

#include "client/admin_client.h"
#include "client/ovseg_client.h"
#include "common/sha256.h"
#include "model/clip/clip_weights.h"
#include "model/serving/fgaseg_checkpoint.h"
#include "model/serving/fovseg_checkpoint.h"
#include "model/serving/model_factory.h"
#include "server/config/config_loader.h"
#include "server/ovseg_server.h"
#include "tests/fakes/tiny_clip_file.h"
#include "tests/fakes/tiny_fgaseg_config.h"

namespace ovseg {
namespace {

namespace fs = std::filesystem;
constexpr char kToken[] = "0123456789abcdef-swap-token";

struct World {
  std::string clip_path = testing::WriteTinyClip();
  std::string dir = ::testing::TempDir() + "/swap";
  ClipModel clip{nullptr};

  World() {
    fs::remove_all(dir);
    fs::create_directories(dir + "/made");
    fs::create_directories(dir + "/watch");
    std::ofstream(dir + "/token") << kToken;
    ClipLoadOptions options;
    options.quick_gelu = true;
    absl::StatusOr<ClipModel> loaded = LoadClipModel(clip_path, options);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    clip = *loaded;
  }

  CheckpointMetadata Metadata(int step) const {
    CheckpointMetadata m;
    m.preset = "fovseg-tiny";
    m.clip_sha256 = ClipWeightsFingerprint(clip);
    m.step = step;
    m.training_vocabulary = {"cat"};
    return m;
  }

  // A checkpoint whose trained tensors moved away from their initial values.
  std::string Make(const std::string& name, int step, bool with_head = false,
                   std::optional<CheckpointMetadata> metadata = std::nullopt,
                   MaskClassifierConfig config = {}) {
    torch::manual_seed(step);
    MaskClassifier classifier(clip->visual, 32, config);
    {
      torch::NoGradGuard no_grad;
      for (auto& [n, t] : ClassifierCheckpointTensors(classifier))
        t.add_(torch::randn_like(t) * 0.05);
    }
    const std::string path = dir + "/made/" + name;
    const CheckpointMetadata m = metadata ? *metadata : Metadata(step);
    if (with_head) {
      FgaSegConfig head_config = testing::TinyFgaSegConfig();
      head_config.clip_width = 64;
      head_config.guidance_layers = {0, 0};
      FgaSegHead head(head_config);
      EXPECT_TRUE(WriteCheckpointWithFgaSeg(path, classifier, head, m).ok());
    } else {
      EXPECT_TRUE(WriteCheckpoint(path, classifier, m).ok());
    }
    return path;
  }
};

v1::SegmentRequest Request() {
  v1::SegmentRequest r;
  v1::RawRgb8* raw = r.mutable_image()->mutable_raw_rgb8();
  raw->set_width(64);
  raw->set_height(64);
  std::string pixels(64 * 64 * 3, '\0');
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<char>((i * 37) % 251);
  raw->set_pixels(pixels);
  for (const char* label : {"cat", "dog"}) r.mutable_labels()->add_labels()->set_name(label);
  r.set_task(v1::SEMANTIC);
  r.mutable_options()->set_head_mode(v1::MASK);
  std::vector<uint8_t> full(64 * 64, 255);  // one region: the whole image
  cv::Mat m(64, 64, CV_8UC1, full.data());
  std::vector<uchar> png;
  cv::imencode(".png", m, png);
  r.add_regions()->set_png(std::string(png.begin(), png.end()));
  return r;
}

// Three clients segmenting in a loop until Stop() (or destruction, when a test ends
// early); every failure is a test failure.
struct Load {
  explicit Load(ClientOptions target) {
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([this, target] {
        OvsegClient c(target);
        const v1::SegmentRequest r = Request();
        while (!stop.load()) {
          absl::StatusOr<v1::SegmentResponse> reply = c.Segment(r);
          if (reply.ok()) {
            ++ok;
            absl::MutexLock lock(&mu);
            versions.insert(reply->model_version());
          } else {
            ++failed;
            ADD_FAILURE() << reply.status();
          }
        }
      });
    }
  }
  ~Load() { Stop(); }
  std::set<std::string> Stop() {
    stop = true;
    for (std::thread& t : threads) {
      if (t.joinable()) t.join();
    }
    absl::MutexLock lock(&mu);
    return versions;
  }
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> threads;
  absl::Mutex mu;
  std::set<std::string> versions;
};

TEST(CheckpointSwapTest, SwapsUnderLoadRefusesBadOnesRollsBackAndWatches) {
  World w;
  v1::ModelConfig model_config;
  model_config.set_preset("fovseg-tiny");
  model_config.set_clip_weights(w.clip_path);
  model_config.set_clip_quick_gelu(true);
  absl::StatusOr<std::unique_ptr<ServingModelLoader>> loader =
      ServingModelLoader::Create(model_config);
  ASSERT_TRUE(loader.ok()) << loader.status();
  absl::StatusOr<ServingModel> initial = (*loader)->Build("");
  ASSERT_TRUE(initial.ok()) << initial.status();

  auto config = ParseServerConfig(
      "listen_address: \"127.0.0.1:0\" metrics_address: \"none\" log_requests: false "
      "batching { buckets { width: 64 height: 64 } max_queue_delay_us: 500 } "
      "admin { token_file: \"" +
          w.dir + "/token\" checkpoint_dir: \"" + w.dir + "/store\" watch_dir: \"" + w.dir +
          "/watch\" watch_interval_seconds: 3600 keep_last: 3 }",
      "test");
  ASSERT_TRUE(config.ok()) << config.status();
  OvsegServerOptions o;
  o.config = *config;
  o.model.pipeline = initial->pipeline;
  o.model.text_encoder = initial->text_encoder;
  o.request_log = nullptr;
  const ServingModelLoader* base = loader->get();
  o.checkpoint_loader = [base](const std::string& path) { return base->Build(path); };
  const OvsegServerOptions restart_options = o;
  auto server = OvsegServer::Start(std::move(o));
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->WaitUntilServing(absl::Seconds(60)));
  const ClientOptions target{"127.0.0.1:" + std::to_string((*server)->port()), "",
                             absl::Seconds(60)};
  OvsegAdminClient admin(target, kToken);
  OvsegClient client(target);
  auto version = [&] {
    absl::StatusOr<v1::GetModelInfoResponse> info = client.GetModelInfo();
    return info.ok() ? info->model_version() : info.status().ToString();
  };
  const std::string untrained = version();
  // A version is the digest of its file, whatever its name.
  auto version_of = [&](const std::string& name) {
    std::ifstream in(w.dir + "/made/" + name, std::ios::binary);
    return VersionIdOfDigest(Sha256Hex(std::string(std::istreambuf_iterator<char>(in), {})));
  };

  // Clients keep segmenting through every swap and refusal below.
  Load load(target);
  // Two good ones, the second with an FGAseg head (DENSE and FUSED appear).
  ASSERT_TRUE(admin.Submit(w.Make("a.safetensors", 1)).ok());
  absl::StatusOr<std::string> activated = admin.Activate("a.safetensors");
  ASSERT_TRUE(activated.ok()) << activated.status();
  const std::string va = version_of("a.safetensors");
  EXPECT_EQ(*activated, va);
  ASSERT_TRUE(admin.Submit(w.Make("b.safetensors", 2, /*with_head=*/true)).ok());
  activated = admin.Activate("b.safetensors");
  ASSERT_TRUE(activated.ok()) << activated.status();
  const std::string vb = version_of("b.safetensors");
  EXPECT_EQ(version(), vb);
  EXPECT_EQ(client.GetModelInfo()->head_modes_size(), 3);

  // Refused at upload, each with a precise error, never stored (so never counted toward
  // keep_last 3: with them stored, a would be pruned and the rollback below impossible),
  // the model staying b.
  CheckpointMetadata foreign = w.Metadata(3);
  foreign.clip_sha256 = std::string(64, 'a');
  absl::Status refused = admin.Submit(w.Make("wrong_base.safetensors", 3, false, foreign)).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("trained on CLIP weights aaaa"), std::string::npos) << refused;
  EXPECT_NE(refused.message().find("not stored"), std::string::npos) << refused;
  EXPECT_EQ(admin.Activate("wrong_base.safetensors").status().code(), absl::StatusCode::kNotFound);
  CheckpointMetadata claims_16 = w.Metadata(4);  // tensors of a hidden-8 adapter
  MaskClassifierConfig hidden_8;
  hidden_8.adapter_hidden = 8;
  refused = admin.Submit(w.Make("wrong_shape.safetensors", 4, false, claims_16, hidden_8)).status();
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("adapter"), std::string::npos) << refused;
  std::ifstream good(w.dir + "/made/a.safetensors", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(good)), {});
  std::ofstream(w.dir + "/made/truncated.safetensors", std::ios::binary)
      << bytes.substr(0, bytes.size() / 2);
  EXPECT_FALSE(admin.Submit(w.dir + "/made/truncated.safetensors").ok());  // header overruns
  std::string flipped = bytes;
  flipped[10] = '#';
  std::ofstream(w.dir + "/made/corrupt.safetensors", std::ios::binary) << flipped;
  EXPECT_FALSE(admin.Submit(w.dir + "/made/corrupt.safetensors").ok());
  EXPECT_EQ(version(), vb);

  // Rollback to a.
  activated = admin.Activate("a.safetensors");
  ASSERT_TRUE(activated.ok()) << activated.status();
  EXPECT_EQ(version(), va);

  // The watched directory: nothing happens before the marker.
  CheckpointWatcher* watcher = (*server)->watcher();
  ASSERT_NE(watcher, nullptr);
  fs::copy_file(w.Make("c.safetensors", 5), w.dir + "/watch/c.safetensors");
  EXPECT_EQ(watcher->ScanOnce(), 0);
  EXPECT_EQ(version(), va);
  std::ifstream c_in(w.dir + "/watch/c.safetensors", std::ios::binary);
  const std::string c_bytes((std::istreambuf_iterator<char>(c_in)), {});
  std::ofstream(w.dir + "/watch/c.safetensors.done") << Sha256Hex(c_bytes) << "\n";
  EXPECT_EQ(watcher->ScanOnce(), 1);
  const std::string vc = version_of("c.safetensors");
  EXPECT_EQ(version(), vc);
  EXPECT_EQ(watcher->ScanOnce(), 0);  // handled once
  // A truncated file with a marker is refused; c keeps serving.
  std::ofstream(w.dir + "/watch/d.safetensors", std::ios::binary) << c_bytes.substr(0, 100);
  std::ofstream(w.dir + "/watch/d.safetensors.done") << "";
  EXPECT_EQ(watcher->ScanOnce(), 1);
  EXPECT_EQ(version(), vc);

  absl::SleepFor(absl::Milliseconds(200));
  const std::set<std::string> versions_seen = load.Stop();
  EXPECT_EQ(load.failed.load(), 0);
  EXPECT_GT(load.ok.load(), 10);
  EXPECT_TRUE(versions_seen.count(vb)) << "no request was answered by b";
  EXPECT_TRUE(versions_seen.count(vc));
  EXPECT_TRUE(versions_seen.count(untrained));
  // Only a, b and c were stored; the refused uploads and d left nothing behind.
  absl::StatusOr<std::vector<v1::CheckpointInfo>> listed = admin.List();
  ASSERT_TRUE(listed.ok());
  std::set<std::string> names;
  for (const v1::CheckpointInfo& info : *listed) names.insert(info.name());
  EXPECT_EQ(names, (std::set<std::string>{"a.safetensors", "b.safetensors", "c.safetensors"}));
  for (const auto& entry : fs::directory_iterator(w.dir + "/store")) {
    EXPECT_EQ(entry.path().filename().string().rfind(".upload-", 0), std::string::npos)
        << entry.path();
  }
  // The gauge follows every transition: c serves, and only c is reported.
  const std::string exposition = (*server)->metrics().Serialize();
  EXPECT_NE(
      exposition.find("ovseg_model_info{checkpoint=\"c.safetensors\",version=\"" + vc + "\"} 1"),
      std::string::npos)
      << exposition;
  EXPECT_EQ(exposition.find("version=\"" + va + "\""), std::string::npos);
  (*server)->Shutdown(absl::Seconds(5));
  server->reset();

  // A restart comes back on the active checkpoint, not on the config's model (the record
  // is fsynced before an activation answers, so kill -9 leaves the same state).
  auto restarted = OvsegServer::Start(restart_options);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  ASSERT_TRUE((*restarted)->WaitUntilServing(absl::Seconds(60)));
  const ClientOptions again{"127.0.0.1:" + std::to_string((*restarted)->port()), "",
                            absl::Seconds(60)};
  absl::StatusOr<v1::GetModelInfoResponse> info = OvsegClient(again).GetModelInfo();
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->model_version(), vc);
  listed = OvsegAdminClient(again, kToken).List();
  ASSERT_TRUE(listed.ok());
  for (const v1::CheckpointInfo& c : *listed) EXPECT_EQ(c.active(), c.name() == "c.safetensors");
  (*restarted)->Shutdown(absl::Seconds(5));
  restarted->reset();

  // A new replica (an empty store of its own, the shared watched directory) comes up on
  // the directory's newest checkpoint that loads: d's marker is newer but d is refused,
  // so c, as the other replicas serve. Touching b's marker later (a rollback through the
  // directory) moves it to b.
  OvsegServerOptions fresh = restart_options;
  fresh.config.mutable_admin()->set_checkpoint_dir(w.dir + "/store-new-replica");
  auto replica = OvsegServer::Start(fresh);
  ASSERT_TRUE(replica.ok()) << replica.status();
  ASSERT_TRUE((*replica)->WaitUntilServing(absl::Seconds(60)));
  const ClientOptions third{"127.0.0.1:" + std::to_string((*replica)->port()), "",
                            absl::Seconds(60)};
  info = OvsegClient(third).GetModelInfo();
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->model_version(), vc);
  fs::copy_file(w.dir + "/made/b.safetensors", w.dir + "/watch/b.safetensors");
  std::ofstream(w.dir + "/watch/b.safetensors.done") << "";
  EXPECT_EQ((*replica)->watcher()->ScanOnce(), 1);
  info = OvsegClient(third).GetModelInfo();
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->model_version(), vb);
  (*replica)->Shutdown(absl::Seconds(5));
}

}  // namespace
}  // namespace ovseg
