#include "server/common/process_tuning.h"

#include <malloc.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace ovseg {

void ApplyServingProcessTuning() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

bool FreedMemoryTrimmer::MaybeTrim() {
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    if (now - last_ < interval_) return false;
    last_ = now;
  }
  malloc_trim(0);
  return true;
}

namespace {

int LinuxPolicy(CpuPolicy policy) {
  return policy == CpuPolicy::kBatch ? SCHED_BATCH : SCHED_OTHER;
}

absl::Status SetThreadPolicy(pid_t tid, int linux_policy) {
  const sched_param param{};  // Priority 0: the only one these two policies take.
  if (sched_setscheduler(tid, linux_policy, &param) == 0 || errno == ESRCH) {
    return absl::OkStatus();  // ESRCH: the thread ended meanwhile.
  }
  return absl::InternalError(absl::StrCat(
      "sched_setscheduler(thread ", tid, ", ",
      linux_policy == SCHED_BATCH ? "SCHED_BATCH" : "SCHED_OTHER", "): ", std::strerror(errno)));
}

}  // namespace

absl::Status SetCurrentThreadCpuPolicy(CpuPolicy policy) {
  return SetThreadPolicy(0, LinuxPolicy(policy));
}

absl::Status SetProcessCpuPolicy(CpuPolicy policy) {
  const int linux_policy = LinuxPolicy(policy);
  // A thread that starts while the list is read could be missed and keep the old policy
  // (when its creator had not been set yet): read the list again until a pass finds no
  // thread it has not set.
  std::set<pid_t> done;
  for (bool found_new = true; found_new;) {
    found_new = false;
    std::error_code error;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", error)) {
      const pid_t tid = static_cast<pid_t>(std::atol(task.path().filename().c_str()));
      if (tid <= 0 || !done.insert(tid).second) continue;
      found_new = true;
      if (absl::Status s = SetThreadPolicy(tid, linux_policy); !s.ok()) return s;
    }
    if (error) {
      return absl::InternalError(absl::StrCat("/proc/self/task: ", error.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status LowerCurrentThreadPriority(int increment) {
  // On Linux nice() changes the calling thread's value alone (and clamps it at 19).
  errno = 0;
  if (nice(std::max(0, increment)) == -1 && errno != 0) {
    return absl::InternalError(absl::StrCat("nice(", increment, "): ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

void EnterModelPriority() { LowerCurrentThreadPriority(kModelThreadNice).IgnoreError(); }

int IntraOpThreadsPerCall(int cpus, int batch_threads) {
  return std::max(1, cpus / std::max(1, batch_threads));
}

}  // namespace ovseg
