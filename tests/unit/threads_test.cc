// The server's own threads: their names (what top -H and perf show) and the process-wide
// scheduling policy that serving sets (server/common/process_tuning.h).
#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "server/batching/batcher.h"
#include "server/common/clock.h"
#include "server/common/process_tuning.h"
#include "server/common/thread_name.h"
#include "server/common/thread_pool.h"
#include "server/service/segment_work.h"

namespace ovseg {
namespace {

std::string CurrentThreadName() {
  char name[16] = {};
  pthread_getname_np(pthread_self(), name, sizeof(name));
  return name;
}

TEST(ThreadNameTest, PoolAndBatchThreadsAreNamed) {
  std::string pool_thread;
  {
    ThreadPool pool(1, 0, "ovseg-io");
    absl::Notification ran;
    ASSERT_TRUE(pool.TrySchedule([&] {
      pool_thread = CurrentThreadName();
      ran.Notify();
    }));
    ran.WaitForNotification();
  }
  EXPECT_EQ(pool_thread, "ovseg-io");

  struct Task {
    std::string name = "b";
    const std::string& bucket() const { return name; }
    absl::Time deadline() const { return absl::InfiniteFuture(); }
    bool IsCancelled() const { return false; }
    void Fail(const absl::Status&) {}
  };
  std::string batch_thread;
  absl::Notification batched;
  BatcherOptions options;
  options.max_queue_delay_us = 0;
  auto batcher =
      Batcher<Task>::Create(options, RealClock::Get(), [&](std::vector<std::unique_ptr<Task>>) {
        batch_thread = CurrentThreadName();
        batched.Notify();
      });
  ASSERT_TRUE(batcher.ok());
  auto task = std::make_unique<Task>();
  ASSERT_TRUE((*batcher)->Schedule(task).ok());
  batched.WaitForNotification();
  EXPECT_EQ(batch_thread, "ovseg-batch");

  // Linux keeps 15 bytes; a longer name is cut, not refused.
  std::thread([] {
    NameCurrentThread("a-name-longer-than-fifteen-bytes");
    EXPECT_EQ(CurrentThreadName(), "a-name-longer-t");
  }).join();
}

TEST(CpuPolicyTest, ReachesRunningThreadsAndIsInherited) {
  // A thread that exists before the call, parked until the checks are done.
  absl::Notification checked;
  int parked_policy = -1;
  absl::Notification parked_read;
  std::thread parked([&] {
    checked.WaitForNotification();
    parked_policy = sched_getscheduler(0);
    parked_read.Notify();
  });

  ASSERT_TRUE(SetProcessCpuPolicy(CpuPolicy::kBatch).ok());
  EXPECT_EQ(sched_getscheduler(0), SCHED_BATCH);
  int child_policy = -1;
  std::thread([&] { child_policy = sched_getscheduler(0); }).join();
  EXPECT_EQ(child_policy, SCHED_BATCH);  // Started after the call: inherited.
  checked.Notify();
  parked_read.WaitForNotification();
  parked.join();
  EXPECT_EQ(parked_policy, SCHED_BATCH);  // Running during the call: set by it.

  ASSERT_TRUE(SetProcessCpuPolicy(CpuPolicy::kNormal).ok());
  EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER);
}

TEST(ThreadPriorityTest, LowersTheCallingThreadAloneAndIsInherited) {
  const int before = getpriority(PRIO_PROCESS, 0);  // this thread's nice value
  int lowered = -100, child = -100;
  std::thread([&] {
    ASSERT_TRUE(LowerCurrentThreadPriority(kModelThreadNice).ok());
    lowered = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
    std::thread([&] {
      child = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
    }).join();
  }).join();
  EXPECT_EQ(lowered, std::min(19, before + kModelThreadNice));
  EXPECT_EQ(child, lowered);  // a model call's intra-op threads run at its priority
  EXPECT_EQ(getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid))), before);
}

TEST(ThreadPriorityTest, IntraOpThreadsShareTheCpusOutAmongConcurrentCalls) {
  EXPECT_EQ(IntraOpThreadsPerCall(2, 1), 2);
  EXPECT_EQ(IntraOpThreadsPerCall(2, 2), 1);
  EXPECT_EQ(IntraOpThreadsPerCall(16, 2), 8);
  EXPECT_EQ(IntraOpThreadsPerCall(3, 2), 1);
  EXPECT_EQ(IntraOpThreadsPerCall(1, 4), 1);  // never 0
}

TEST(SegmentWorkTest, ReleasingModelInputsFreesTheirMemory) {
  SegmentWork work;
  work.model_image.width = 640;
  work.model_image.height = 480;
  work.model_image.pixels.resize(640 * 480 * 3);
  work.regions.count = 1;
  work.regions.data.resize(640 * 480);
  work.ReleaseModelInputs();
  EXPECT_EQ(work.model_image.pixels.capacity(), 0u);  // Freed, not only emptied.
  EXPECT_EQ(work.regions.data.capacity(), 0u);
  EXPECT_EQ(work.regions.count, 0);
}

}  // namespace
}  // namespace ovseg
