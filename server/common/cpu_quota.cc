#include "server/common/cpu_quota.h"

#include <sched.h>

#include <algorithm>
#include <fstream>
#include <thread>

namespace ovseg {
namespace {

std::optional<int> CpusOf(long long quota, long long period) {
  if (quota <= 0 || period <= 0) return std::nullopt;
  return static_cast<int>(std::max<long long>(1, (quota + period - 1) / period));
}

}  // namespace

std::optional<int> CgroupCpuQuota(const std::string& cgroup_root) {
  // cgroup v2: "<quota> <period>" or "max <period>".
  if (std::ifstream v2(cgroup_root + "/cpu.max"); v2) {
    std::string quota;
    long long period = 0;
    if (!(v2 >> quota >> period) || quota == "max") return std::nullopt;
    try {
      return CpusOf(std::stoll(quota), period);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  // cgroup v1: quota -1 means unlimited.
  std::ifstream quota_file(cgroup_root + "/cpu/cpu.cfs_quota_us");
  std::ifstream period_file(cgroup_root + "/cpu/cpu.cfs_period_us");
  long long quota = 0, period = 0;
  if (quota_file >> quota && period_file >> period) return CpusOf(quota, period);
  return std::nullopt;
}

int AvailableCpus(const std::string& cgroup_root) {
  int cpus = static_cast<int>(std::thread::hardware_concurrency());
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) cpus = CPU_COUNT(&set);
  if (const std::optional<int> quota = CgroupCpuQuota(cgroup_root)) cpus = std::min(cpus, *quota);
  return std::max(1, cpus);
}

}  // namespace ovseg
