// Deployment overrides of the config file (server/config/config_overrides.h).
#include "server/config/config_overrides.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "server/common/cpu_quota.h"

namespace ovseg {
namespace {

std::function<const char*(const char*)> Env(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  return [shared](const char* name) -> const char* {
    auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

TEST(ConfigOverridesTest, EnvironmentThenFlagsOverTheFile) {
  v1::ServerConfig config;
  config.set_listen_address("127.0.0.1:50051");
  config.set_metrics_address("127.0.0.1:9464");
  auto env = ConfigOverridesFromEnvironment(Env({{"OVSEG_LISTEN_ADDRESS", "0.0.0.0:50051"},
                                                 {"OVSEG_METRICS_PORT", "9000"},
                                                 {"OVSEG_ALLOW_INSECURE_NON_LOOPBACK", "true"}}));
  ASSERT_TRUE(env.ok()) << env.status();
  ConfigOverrides flags;
  flags.port = 6000;
  ASSERT_TRUE(ApplyConfigOverrides(Merge(*env, flags), &config).ok());
  EXPECT_EQ(config.listen_address(), "0.0.0.0:6000");  // address from env, port from flag
  EXPECT_EQ(config.metrics_address(), "127.0.0.1:9000");
  EXPECT_TRUE(config.allow_insecure_non_loopback());
  // A flag wins over its variable.
  ConfigOverrides address_flag;
  address_flag.listen_address = "[::]:7000";
  ASSERT_TRUE(ApplyConfigOverrides(Merge(*env, address_flag), &config).ok());
  EXPECT_EQ(config.listen_address(), "[::]:7000");
}

TEST(ConfigOverridesTest, BadValuesNameTheirVariable) {
  auto port = ConfigOverridesFromEnvironment(Env({{"OVSEG_PORT", "fifty"}}));
  EXPECT_EQ(port.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(port.status().message().find("OVSEG_PORT"), std::string::npos);
  auto range = ConfigOverridesFromEnvironment(Env({{"OVSEG_METRICS_PORT", "70000"}}));
  EXPECT_NE(range.status().message().find("OVSEG_METRICS_PORT"), std::string::npos);
  auto flag = ConfigOverridesFromEnvironment(Env({{"OVSEG_ALLOW_INSECURE_NON_LOOPBACK", "yes!"}}));
  EXPECT_NE(flag.status().message().find("OVSEG_ALLOW_INSECURE_NON_LOOPBACK"), std::string::npos);
  auto none = ConfigOverridesFromEnvironment(Env({}));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->listen_address || none->port || none->allow_insecure_non_loopback);
}

TEST(ConfigOverridesTest, AMetricsPortDoesNotTurnDisabledMetricsOn) {
  v1::ServerConfig config;
  config.set_metrics_address("none");
  ConfigOverrides o;
  o.metrics_port = 9000;
  ASSERT_TRUE(ApplyConfigOverrides(o, &config).ok());
  EXPECT_EQ(config.metrics_address(), "none");
}

TEST(CpuQuotaTest, ReadsCgroupV2AndV1QuotasRoundedUp) {
  const std::string root = ::testing::TempDir() + "/cgroup-test";
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root + "/cpu");
  EXPECT_FALSE(CgroupCpuQuota(root).has_value());  // nothing readable: unlimited
  std::ofstream(root + "/cpu/cpu.cfs_quota_us") << "-1\n";
  std::ofstream(root + "/cpu/cpu.cfs_period_us") << "100000\n";
  EXPECT_FALSE(CgroupCpuQuota(root).has_value());  // v1 unlimited
  std::ofstream(root + "/cpu/cpu.cfs_quota_us") << "250000\n";
  EXPECT_EQ(CgroupCpuQuota(root), 3);  // 2.5 CPUs -> 3 threads
  std::ofstream(root + "/cpu.max") << "max 100000\n";
  EXPECT_FALSE(CgroupCpuQuota(root).has_value());  // v2 first: unlimited
  std::ofstream(root + "/cpu.max") << "150000 100000\n";
  EXPECT_EQ(CgroupCpuQuota(root), 2);
  std::ofstream(root + "/cpu.max") << "50000 100000\n";
  EXPECT_EQ(AvailableCpus(root), 1);  // half a CPU still gets one thread
}

}  // namespace
}  // namespace ovseg
