// A fixed set of worker threads with a bounded FIFO queue, for the CPU stages around the
// model (decode, encode). Schedule() never blocks: a full queue is reported to the caller,
// which turns it into RESOURCE_EXHAUSTED.
#ifndef OVSEG_SERVER_COMMON_THREAD_POOL_H_
#define OVSEG_SERVER_COMMON_THREAD_POOL_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace ovseg {

class ThreadPool {
 public:
  // num_threads >= 1; max_queue == 0 means unbounded. The threads are called `name`, and
  // each calls `thread_init` (if set) before its first task: for a scheduling policy or
  // priority of their own (process_tuning.h).
  ThreadPool(int num_threads, size_t max_queue, std::string name = "ovseg-pool",
             std::function<void()> thread_init = nullptr);
  // Runs every task already queued, then joins.
  ~ThreadPool();

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // False when the queue is full or the pool is shutting down.
  bool TrySchedule(std::function<void()> task);

  size_t queued() const;
  int num_threads() const { return static_cast<int>(threads_.size()); }

 private:
  void WorkLoop();

  const size_t max_queue_;
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace ovseg

#endif  // OVSEG_SERVER_COMMON_THREAD_POOL_H_
