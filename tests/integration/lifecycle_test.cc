// The model lifecycle through a real server and real clients, with fake models: what an
// activation does to the version requests see, to the gauge, to health, and what a load
// that fails in any way leaves behind (server/lifecycle/servable_manager.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <new>
#include <opencv2/imgcodecs.hpp>
#include <set>
#include <stdexcept>
#include <thread>

#include "client/admin_client.h"
#include "client/ovseg_client.h"
#include "common/sha256.h"
#include "server/common/process_tuning.h"
#include "server/config/config_loader.h"
#include "server/ovseg_server.h"
#include "tests/fakes/fake_pipeline.h"

namespace ovseg {
namespace {
namespace fs = std::filesystem;

constexpr char kToken[] = "0123456789abcdef-token";

// Holds every batch in Run() while closed, so a test can keep a request inside the model.
class GatedPipeline : public SegmentationPipeline {
 public:
  explicit GatedPipeline(std::string version) {
    testing::FakeSegmentationPipeline::Options o;
    o.version = std::move(version);
    inner_ = std::make_shared<testing::FakeSegmentationPipeline>(o);
  }
  std::vector<absl::StatusOr<PipelineResult>> Run(absl::Span<const PipelineRequest> b) override {
    entered_.fetch_add(1);
    const int nice = testing::CurrentThreadNice();
    absl::MutexLock lock(&mu_);
    nice_values_.insert(nice);
    mu_.Await(absl::Condition(&open_));
    return inner_->Run(b);
  }
  PipelineInfo Info() const override { return inner_->Info(); }
  void Open(bool open) {
    absl::MutexLock lock(&mu_);
    open_ = open;
  }
  int entered() const { return entered_.load(); }
  // The nice values of the threads that called Run.
  std::set<int> nice_values() const {
    absl::MutexLock lock(&mu_);
    return nice_values_;
  }

 private:
  std::shared_ptr<testing::FakeSegmentationPipeline> inner_;
  mutable absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = true;
  std::set<int> nice_values_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> entered_{0};
};

// What the fake loader does with the next checkpoint it loads.
enum class LoadFault { kNone, kError, kException, kOutOfMemory, kSlow };

struct Harness {
  std::string dir;
  std::shared_ptr<GatedPipeline> initial = std::make_shared<GatedPipeline>("initial");
  std::atomic<LoadFault> fault{LoadFault::kNone};
  std::atomic<int> loads{0};
  std::shared_ptr<testing::FakeTextEncoder> initial_encoder =
      std::make_shared<testing::FakeTextEncoder>("encoder-initial");
  // Called with each model the fake loader makes (set before the load it should see).
  std::function<void(const std::shared_ptr<GatedPipeline>&,
                     const std::shared_ptr<testing::FakeTextEncoder>&)>
      on_load;
  std::unique_ptr<OvsegServer> server;
  ClientOptions target;

  explicit Harness(const std::string& name) : dir(::testing::TempDir() + "/lifecycle-" + name) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ofstream(dir + "/token") << kToken;
  }

  OvsegServerOptions Options() {
    auto config = ParseServerConfig(
        "listen_address: \"127.0.0.1:0\" metrics_address: \"none\" log_requests: false "
        "batching { buckets { width: 64 height: 64 } max_queue_delay_us: 200 num_batch_threads: 2 "
        "} "
        "admin { token_file: \"" +
            dir + "/token\" checkpoint_dir: \"" + dir + "/store\" }",
        "test");
    EXPECT_TRUE(config.ok()) << config.status();
    OvsegServerOptions o;
    o.config = *config;
    o.model.pipeline = initial;
    o.model.text_encoder = initial_encoder;
    o.request_log = nullptr;
    o.checkpoint_loader = [this](const std::string& path) -> absl::StatusOr<ServingModel> {
      loads.fetch_add(1);
      switch (fault.load()) {
        case LoadFault::kError:
          return absl::FailedPreconditionError("injected: the checkpoint does not fit");
        case LoadFault::kException:
          throw std::out_of_range("injected: map::at");
        case LoadFault::kOutOfMemory:
          throw std::bad_alloc();
        case LoadFault::kSlow:
          absl::SleepFor(absl::Milliseconds(1500));
          break;
        case LoadFault::kNone:
          break;
      }
      const std::string stem = fs::path(path).stem().string();
      ServingModel m;
      auto pipeline = std::make_shared<GatedPipeline>("pipeline-" + stem);
      auto encoder = std::make_shared<testing::FakeTextEncoder>("encoder-" + stem);
      if (on_load) on_load(pipeline, encoder);
      m.pipeline = pipeline;
      m.text_encoder = encoder;
      return m;
    };
    return o;
  }

  void Start() {
    auto started = OvsegServer::Start(Options());
    ASSERT_TRUE(started.ok()) << started.status();
    server = *std::move(started);
    ASSERT_TRUE(server->WaitUntilServing(absl::Seconds(10)));
    target = ClientOptions{"127.0.0.1:" + std::to_string(server->port()), "", absl::Seconds(30)};
  }

  // A small, valid safetensors file (the fake loader does not read it); returns its
  // version id.
  std::string Submit(const std::string& name, int step) {
    const std::string json = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("__metadata__":{"step":")" +
                             std::to_string(step) + R"("}})";
    std::string file(8, '\0');
    file[0] = static_cast<char>(json.size());
    file += json + std::string(8, '\0');
    const std::string path = dir + "/" + name;
    std::ofstream(path, std::ios::binary) << file;
    const LoadFault saved = fault.exchange(LoadFault::kNone);  // uploads are load-checked
    absl::StatusOr<v1::CheckpointInfo> info = OvsegAdminClient(target, kToken).Submit(path);
    fault = saved;
    EXPECT_TRUE(info.ok()) << info.status();
    return VersionIdOfDigest(Sha256Hex(file));
  }

  std::string Version() {
    absl::StatusOr<v1::GetModelInfoResponse> info = OvsegClient(target).GetModelInfo();
    return info.ok() ? info->model_version() : info.status().ToString();
  }
};

v1::SegmentRequest Request() {
  v1::SegmentRequest r;
  cv::Mat m(64, 64, CV_8UC3, cv::Scalar(20, 120, 220));
  std::vector<uchar> jpeg;
  cv::imencode(".jpg", m, jpeg);
  r.mutable_image()->set_encoded(std::string(jpeg.begin(), jpeg.end()));
  for (const char* label : {"cat", "dog"}) r.mutable_labels()->add_labels()->set_name(label);
  return r;
}

// Clients segmenting in a loop until Stop(); every failure is counted and reported.
struct Load {
  explicit Load(ClientOptions target) {
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([this, target] {
        OvsegClient c(target);
        while (!stop.load()) {
          absl::StatusOr<v1::SegmentResponse> reply = c.Segment(Request());
          if (reply.ok()) {
            ++ok;
          } else {
            ++failed;
            ADD_FAILURE() << reply.status();
          }
        }
      });
    }
  }
  ~Load() { Stop(); }
  void Stop() {
    stop = true;
    for (std::thread& t : threads) {
      if (t.joinable()) t.join();
    }
  }
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> threads;
};

TEST(LifecycleTest, GaugeFollowsEverySwapAndRollback) {
  Harness h("gauge");
  h.Start();
  const std::string initial = h.Version();
  EXPECT_EQ(initial, "initial");  // an untrained model keeps its pipeline's name
  auto gauge = [&] { return h.server->metrics().Serialize(); };
  EXPECT_NE(gauge().find("ovseg_model_info{checkpoint=\"\",version=\"initial\"} 1"),
            std::string::npos)
      << gauge();
  const std::string va = h.Submit("a.safetensors", 1);
  const std::string vb = h.Submit("b.safetensors", 2);
  OvsegAdminClient admin(h.target, kToken);
  ASSERT_EQ(admin.Activate("a.safetensors").value_or("failed"), va);
  ASSERT_EQ(admin.Activate("b.safetensors").value_or("failed"), vb);
  EXPECT_NE(gauge().find("ovseg_model_info{checkpoint=\"b.safetensors\",version=\"" + vb + "\"} 1"),
            std::string::npos)
      << gauge();
  ASSERT_EQ(admin.Activate("a.safetensors").value_or("failed"), va);  // rollback
  const std::string text = gauge();
  EXPECT_NE(text.find("ovseg_model_info{checkpoint=\"a.safetensors\",version=\"" + va + "\"} 1"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("version=\"" + vb + "\""), std::string::npos) << "one version reported";
  EXPECT_NE(text.find("ovseg_checkpoint_events_total{event=\"swap\"} 3"), std::string::npos)
      << text;
  EXPECT_EQ(h.Version(), va);
}

// Every model call runs below the I/O threads' priority (kModelThreadNice): the batch
// threads', the start's warm-up, a swap's load and warm-up (while the old version serves)
// and the text encoder's for cold vocabularies, in a Segment call or a
// RegisterVocabulary. At the I/O threads' priority they would hold up refusals (the soak).
TEST(LifecycleTest, EveryModelCallRunsAtTheModelPriority) {
  const int base = testing::CurrentThreadNice();
  const std::set<int> model = {std::min(19, base + kModelThreadNice)};
  Harness h("priority");
  h.Start();
  ASSERT_TRUE(OvsegClient(h.target).Segment(Request()).ok());  // a cold vocabulary
  EXPECT_EQ(h.initial->nice_values(), model);                  // warm-up and batch
  EXPECT_EQ(h.initial_encoder->nice_values(), model);
  absl::Mutex mu;  // the loader runs on the manager's thread
  std::shared_ptr<GatedPipeline> pipeline;
  std::shared_ptr<testing::FakeTextEncoder> encoder;
  h.on_load = [&](const std::shared_ptr<GatedPipeline>& p,
                  const std::shared_ptr<testing::FakeTextEncoder>& e) {
    absl::MutexLock lock(&mu);
    pipeline = p;
    encoder = e;
  };
  const std::string va = h.Submit("a.safetensors", 1);
  ASSERT_EQ(OvsegAdminClient(h.target, kToken).Activate("a.safetensors").value_or("failed"), va);
  ASSERT_TRUE(OvsegClient(h.target).RegisterVocabulary({"bird"}).ok());
  ASSERT_TRUE(OvsegClient(h.target).Segment(Request()).ok());
  absl::MutexLock lock(&mu);
  ASSERT_NE(pipeline, nullptr);
  EXPECT_EQ(pipeline->nice_values(), model);  // the swap's warm-up and a batch
  EXPECT_EQ(encoder->nice_values(), model);   // warm-up, registration, cold vocabulary
  EXPECT_EQ(testing::CurrentThreadNice(), base);
}

TEST(LifecycleTest, RestartComesBackOnTheActiveVersion) {
  Harness h("restart");
  h.Start();
  const std::string va = h.Submit("a.safetensors", 1);
  ASSERT_TRUE(OvsegAdminClient(h.target, kToken).Activate("a.safetensors").ok());
  h.server.reset();  // stops it; the record was written before Activate answered
  ASSERT_TRUE(fs::exists(h.dir + "/store/active.json"));
  h.Start();
  EXPECT_EQ(h.Version(), va);
  absl::StatusOr<std::vector<v1::CheckpointInfo>> listed =
      OvsegAdminClient(h.target, kToken).List();
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_TRUE((*listed)[0].active());
  absl::StatusOr<v1::SegmentResponse> reply = OvsegClient(h.target).Segment(Request());
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->model_version(), va);

  // A recorded checkpoint that no longer loads: the config's model serves, nothing is
  // listed active, and the record stays for the next start.
  h.server.reset();
  h.fault = LoadFault::kError;
  h.Start();
  EXPECT_EQ(h.Version(), "initial");
  listed = OvsegAdminClient(h.target, kToken).List();
  ASSERT_TRUE(listed.ok());
  EXPECT_FALSE((*listed)[0].active());
  EXPECT_TRUE(fs::exists(h.dir + "/store/active.json"));
}

TEST(LifecycleTest, HealthAnswersWhileAnActivationLoads) {
  Harness h("health");
  h.Start();
  h.Submit("slow.safetensors", 1);
  h.fault = LoadFault::kSlow;
  std::thread activation(
      [&] { EXPECT_TRUE(OvsegAdminClient(h.target, kToken).Activate("slow.safetensors").ok()); });
  while (h.loads.load() < 2) absl::SleepFor(absl::Milliseconds(5));  // upload's, then this
  OvsegClient client(h.target);
  double worst = 0;
  for (int i = 0; i < 10; ++i) {
    const absl::Time start = absl::Now();
    absl::StatusOr<std::string> health = client.Health();
    worst = std::max(worst, absl::ToDoubleMilliseconds(absl::Now() - start));
    ASSERT_TRUE(health.ok()) << health.status();
    EXPECT_EQ(*health, "SERVING");
    EXPECT_TRUE(client.Segment(Request()).ok());
  }
  EXPECT_LT(worst, 50.0) << "a health check waited behind the activation";
  activation.join();
}

TEST(LifecycleTest, FailedLoadsOfEveryKindKeepTheServingVersion) {
  Harness h("faults");
  h.Start();
  const std::string va = h.Submit("a.safetensors", 1);
  h.Submit("b.safetensors", 2);
  OvsegAdminClient admin(h.target, kToken);
  ASSERT_EQ(admin.Activate("a.safetensors").value_or("failed"), va);
  Load load(h.target);
  struct Case {
    LoadFault fault;
    absl::StatusCode code;
    const char* says;
  };
  for (const Case& c :
       {Case{LoadFault::kError, absl::StatusCode::kFailedPrecondition, "fit"},
        Case{LoadFault::kException, absl::StatusCode::kInternal, "map::at"},
        Case{LoadFault::kOutOfMemory, absl::StatusCode::kResourceExhausted, "out of memory"}}) {
    h.fault = c.fault;
    absl::StatusOr<std::string> activated = admin.Activate("b.safetensors");
    EXPECT_EQ(activated.status().code(), c.code) << activated.status();
    EXPECT_NE(activated.status().message().find(c.says), std::string::npos) << activated.status();
    EXPECT_EQ(h.Version(), va);
  }
  absl::SleepFor(absl::Milliseconds(100));
  load.Stop();
  EXPECT_EQ(load.failed.load(), 0);
  EXPECT_GT(load.ok.load(), 0);
  const std::string text = h.server->metrics().Serialize();
  EXPECT_NE(text.find("ovseg_checkpoint_events_total{event=\"failure\"} 3"), std::string::npos)
      << text;
}

TEST(LifecycleTest, RequestAdmittedBeforeASwapFinishesOnItsVersion) {
  Harness h("snapshot");
  h.Start();
  const std::string va = h.Submit("a.safetensors", 1);
  // Hold the initial model's next batch inside Run().
  h.initial->Open(false);
  const int entered = h.initial->entered();
  absl::StatusOr<v1::SegmentResponse> before;
  std::thread request([&] { before = OvsegClient(h.target).Segment(Request()); });
  while (h.initial->entered() == entered) absl::SleepFor(absl::Milliseconds(2));
  // The swap completes while that request is inside the old version.
  ASSERT_EQ(OvsegAdminClient(h.target, kToken).Activate("a.safetensors").value_or("failed"), va);
  absl::StatusOr<v1::SegmentResponse> after = OvsegClient(h.target).Segment(Request());
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->model_version(), va);
  h.initial->Open(true);
  request.join();
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->model_version(), "initial");
}

}  // namespace
}  // namespace ovseg
