// The active version survives kill -9: the ovseg-server binary on the embedded demo model
// (configs/server.pbtxt, with its own checkpoint directory and an admin token) is given a
// checkpoint, activates it, is killed with SIGKILL, and comes back on that checkpoint,
// listed active, not on the config's model.checkpoint.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "client/admin_client.h"
#include "client/ovseg_client.h"
#include "common/sha256.h"
#include "server/lifecycle/servable_manager.h"

namespace ovseg {
namespace {

namespace fs = std::filesystem;

constexpr char kToken[] = "restart-test-token-0123456789";

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// A running ovseg-server process; SIGKILLed when it goes out of scope.
class ServerProcess {
 public:
  ServerProcess(const std::string& source, const std::string& config, const std::string& log) {
    const std::string pid_file = log + ".pid";
    // "cd ...;" first, so that $! is the server's own pid, not a subshell's.
    const std::string start = "cd " + source + "; " + OVSEG_SERVER_BINARY + " --config " + config +
                              " --port 0 --metrics_port 0 --http_port 0 2> " + log +
                              " & echo $! > " + pid_file;
    if (std::system(start.c_str()) != 0) return;
    pid_ = std::atoi(ReadWhole(pid_file).c_str());
    const std::regex listening("listening on port ([0-9]+)");
    for (int i = 0; i < 240 && port_ == 0; ++i) {
      std::smatch m;
      const std::string text = ReadWhole(log);
      if (std::regex_search(text, m, listening)) port_ = std::stoi(m[1]);
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
  ~ServerProcess() { Kill(); }
  void Kill() {
    if (pid_ > 0) ::kill(pid_, SIGKILL);
    pid_ = 0;
  }
  int port() const { return port_; }
  ClientOptions target() const {
    return ClientOptions{"127.0.0.1:" + std::to_string(port_), "", absl::Seconds(120)};
  }
  bool WaitServing() const {
    OvsegClient client(target());
    for (int i = 0; i < 360; ++i) {
      absl::StatusOr<std::string> health = client.Health();
      if (health.ok() && *health == "SERVING") return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    return false;
  }

 private:
  int pid_ = 0;
  int port_ = 0;
};

TEST(RestartTest, KillMinusNineComesBackOnTheActiveCheckpoint) {
  const char* source = std::getenv("OVSEG_SOURCE_DIR");
  ASSERT_NE(source, nullptr) << "OVSEG_SOURCE_DIR must point at the repository";
  const std::string root = ::testing::TempDir() + "/restart_test";
  fs::remove_all(root);
  fs::create_directories(root);
  std::ofstream(root + "/token") << kToken;
  // The shipped config with a checkpoint directory of the test's own and an admin token.
  std::string config = ReadWhole(std::string(source) + "/configs/server.pbtxt");
  const std::string dir_line = "checkpoint_dir: \"checkpoints\"";
  ASSERT_NE(config.find(dir_line), std::string::npos) << "configs/server.pbtxt changed";
  config.replace(config.find(dir_line), dir_line.size(),
                 "checkpoint_dir: \"" + root + "/store\" token_file: \"" + root + "/token\"");
  std::ofstream(root + "/server.pbtxt") << config;

  // A checkpoint other than the config's: the demo's, its recorded step changed (the same
  // tensors, another file, so another version id).
  std::string bytes = ReadWhole(std::string(source) + "/models/demo/fovseg.safetensors");
  const size_t step = bytes.find("\"step\":\"400\"");
  ASSERT_NE(step, std::string::npos);
  bytes.replace(step, 12, "\"step\":\"401\"");
  std::ofstream(root + "/promoted.safetensors", std::ios::binary) << bytes;
  const std::string promoted = VersionIdOfDigest(Sha256Hex(bytes));

  ServerProcess first(source, root + "/server.pbtxt", root + "/first.txt");
  ASSERT_GT(first.port(), 0) << ReadWhole(root + "/first.txt");
  ASSERT_TRUE(first.WaitServing()) << ReadWhole(root + "/first.txt");
  const std::string initial = OvsegClient(first.target()).GetModelInfo()->model_version();
  EXPECT_NE(initial, promoted);
  OvsegAdminClient admin(first.target(), kToken);
  ASSERT_TRUE(admin.Submit(root + "/promoted.safetensors").ok());
  absl::StatusOr<std::string> activated = admin.Activate("promoted.safetensors");
  ASSERT_TRUE(activated.ok()) << activated.status();
  EXPECT_EQ(*activated, promoted);
  first.Kill();  // SIGKILL: no drain, no shutdown code runs

  ServerProcess second(source, root + "/server.pbtxt", root + "/second.txt");
  ASSERT_GT(second.port(), 0) << ReadWhole(root + "/second.txt");
  ASSERT_TRUE(second.WaitServing()) << ReadWhole(root + "/second.txt");
  absl::StatusOr<v1::GetModelInfoResponse> info = OvsegClient(second.target()).GetModelInfo();
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->model_version(), promoted);
  absl::StatusOr<std::vector<v1::CheckpointInfo>> listed =
      OvsegAdminClient(second.target(), kToken).List();
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_TRUE((*listed)[0].active());
}

}  // namespace
}  // namespace ovseg
