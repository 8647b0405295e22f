// How many CPUs this process may use: the smaller of its affinity mask and its cgroup's
// CPU quota. In a Kubernetes pod with `limits.cpu: 2` on a 64-core node, the affinity mask
// still shows 64 cores (std::thread::hardware_concurrency, and LibTorch's default thread
// count); the quota (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`)
// says 2, and 64 busy threads on a 2-CPU quota spend most of each period throttled.
// Thread-safe (reads files and the affinity mask only).
#ifndef OVSEG_SERVER_COMMON_CPU_QUOTA_H_
#define OVSEG_SERVER_COMMON_CPU_QUOTA_H_

#include <optional>
#include <string>

namespace ovseg {

// The cgroup's quota in CPUs, rounded up (a quota of 1.5 CPUs gives 2), read under
// `cgroup_root` (v2 first, then v1); nullopt when unlimited or unreadable.
std::optional<int> CgroupCpuQuota(const std::string& cgroup_root = "/sys/fs/cgroup");

// min(CPUs in the affinity mask, CgroupCpuQuota()), at least 1.
int AvailableCpus(const std::string& cgroup_root = "/sys/fs/cgroup");

}  // namespace ovseg

#endif  // OVSEG_SERVER_COMMON_CPU_QUOTA_H_
