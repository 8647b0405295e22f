// The data-parallel launch environment as torchrun and Kubernetes Indexed Jobs set it, and
// every way it can be wrong.
#include "model/train/launch_env.h"

#include <gtest/gtest.h>

#include <map>

namespace ovseg {
namespace {

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](const char* name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(LaunchEnvTest, NoWorldSizeIsOneProcess) {
  absl::StatusOr<LaunchEnv> env = ReadLaunchEnv(Env({{"RANK", "3"}}));
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_FALSE(env->distributed());
  EXPECT_EQ(env->rank, 0);
  env = ReadLaunchEnv(Env({{"WORLD_SIZE", "1"}}));
  ASSERT_TRUE(env.ok());
  EXPECT_FALSE(env->distributed());
}

TEST(LaunchEnvTest, TorchrunVariables) {
  absl::StatusOr<LaunchEnv> env = ReadLaunchEnv(Env({{"WORLD_SIZE", "4"},
                                                     {"RANK", "2"},
                                                     {"MASTER_ADDR", "trainer-0.train"},
                                                     {"MASTER_PORT", "29500"}}));
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_TRUE(env->distributed());
  EXPECT_EQ(env->rank, 2);
  EXPECT_EQ(env->world_size, 4);
  EXPECT_EQ(env->master_addr, "trainer-0.train");
  EXPECT_EQ(env->master_port, 29500);
}

TEST(LaunchEnvTest, IndexedJobCompletionIndexIsTheRank) {
  absl::StatusOr<LaunchEnv> env = ReadLaunchEnv(Env({{"WORLD_SIZE", "2"},
                                                     {"JOB_COMPLETION_INDEX", "1"},
                                                     {"MASTER_ADDR", "10.0.0.5"},
                                                     {"MASTER_PORT", "29500"}}));
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->rank, 1);
  // RANK wins when both are set.
  env = ReadLaunchEnv(Env({{"WORLD_SIZE", "2"},
                           {"RANK", "0"},
                           {"JOB_COMPLETION_INDEX", "1"},
                           {"MASTER_ADDR", "h"},
                           {"MASTER_PORT", "1"}}));
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->rank, 0);
}

TEST(LaunchEnvTest, ErrorsNameTheVariableAndValue) {
  const std::map<std::string, std::string> good = {
      {"WORLD_SIZE", "2"}, {"RANK", "1"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "29500"}};
  struct Case {
    std::string variable, value, expected;
  };
  for (const Case& c : std::vector<Case>{
           {"WORLD_SIZE", "two", "WORLD_SIZE=\"two\": not an integer in 1..4096"},
           {"WORLD_SIZE", "0", "WORLD_SIZE=\"0\""},
           {"RANK", "2", "RANK=\"2\": not an integer in 0..1"},
           {"RANK", "-1", "RANK=\"-1\""},
           {"MASTER_PORT", "70000", "MASTER_PORT=\"70000\": not an integer in 1..65535"},
           {"MASTER_ADDR", "", "needs MASTER_ADDR"},
       }) {
    std::map<std::string, std::string> vars = good;
    vars[c.variable] = c.value;
    const absl::StatusOr<LaunchEnv> env = ReadLaunchEnv(Env(vars));
    ASSERT_FALSE(env.ok()) << c.variable << "=" << c.value;
    EXPECT_EQ(env.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(env.status().message().find(c.expected), std::string::npos) << env.status();
  }
  for (const char* missing : {"MASTER_ADDR", "MASTER_PORT"}) {
    std::map<std::string, std::string> vars = good;
    vars.erase(missing);
    const absl::StatusOr<LaunchEnv> env = ReadLaunchEnv(Env(vars));
    ASSERT_FALSE(env.ok());
    EXPECT_NE(env.status().message().find(missing), std::string::npos) << env.status();
  }
  std::map<std::string, std::string> vars = good;
  vars.erase("RANK");
  const absl::StatusOr<LaunchEnv> env = ReadLaunchEnv(Env(vars));
  ASSERT_FALSE(env.ok());
  EXPECT_NE(env.status().message().find("neither RANK nor JOB_COMPLETION_INDEX"),
            std::string::npos);
}

}  // namespace
}  // namespace ovseg
