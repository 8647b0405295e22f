// Batcher<Task>: groups queued tasks of the same shape bucket into batches of up to
// max_batch_size, waiting at most max_queue_delay_us for companions of the oldest task.
//
// Task must provide:
//   const std::string& bucket() const;   // tasks batch together iff buckets are equal
//   absl::Time deadline() const;         // absl::InfiniteFuture() when none
//   bool IsCancelled() const;            // thread-safe
//   void Fail(const absl::Status&);      // completes a task that will not be computed
//
// Threading: Schedule() is thread-safe and never blocks on compute. With
// num_batch_threads > 0 the batcher owns that many threads which call the batch function;
// with 0 the owner drives ProcessOneBatch() itself (tests with a fake clock do).
// Expired and cancelled tasks are failed when their batch is formed, never computed.
#ifndef OVSEG_SERVER_BATCHING_BATCHER_H_
#define OVSEG_SERVER_BATCHING_BATCHER_H_

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/common/clock.h"
#include "server/common/thread_name.h"

namespace ovseg {

struct BatcherOptions {
  int max_batch_size = 8;             // >= 1
  int64_t max_queue_delay_us = 2000;  // >= 0
  int max_queue_size = 256;           // >= 1; tasks waiting, all buckets together
  int num_batch_threads = 1;          // >= 0
  // Runs first on each batch thread (e.g. to set its scheduling policy); may be empty.
  std::function<void()> thread_init = nullptr;
};

template <typename Task>
class Batcher {
 public:
  // Receives a non-empty batch of one bucket, oldest first, and owns it from then on.
  using ProcessBatchFn = std::function<void(std::vector<std::unique_ptr<Task>>)>;

  static absl::StatusOr<std::unique_ptr<Batcher>> Create(const BatcherOptions& options,
                                                         Clock* clock, ProcessBatchFn fn) {
    if (options.max_batch_size < 1) {
      return absl::InvalidArgumentError("batching.max_batch_size must be >= 1");
    }
    if (options.max_queue_delay_us < 0) {
      return absl::InvalidArgumentError("batching.max_queue_delay_us must be >= 0");
    }
    if (options.max_queue_size < 1) {
      return absl::InvalidArgumentError("batching.max_queue_size must be >= 1");
    }
    if (options.num_batch_threads < 0) {
      return absl::InvalidArgumentError("batching.num_batch_threads must be >= 0");
    }
    if (clock == nullptr || !fn) return absl::InvalidArgumentError("clock and fn are required");
    return std::unique_ptr<Batcher>(new Batcher(options, clock, std::move(fn)));
  }

  ~Batcher() { Shutdown(); }

  // Queues `task`. On error the task is left with the caller: RESOURCE_EXHAUSTED when
  // max_queue_size tasks wait already, UNAVAILABLE after Shutdown().
  absl::Status Schedule(std::unique_ptr<Task>& task) {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::UnavailableError("server is shutting down");
    if (queued_ >= static_cast<size_t>(options_.max_queue_size)) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "queue full: ", queued_,
          " requests waiting (batching.max_queue_size = ", options_.max_queue_size, ")"));
    }
    buckets_[task->bucket()].push_back(Entry{std::move(task), clock_->Now()});
    ++queued_;
    ++version_;
    return absl::OkStatus();
  }

  // Forms at most one batch that is due at clock->Now() (full, or its oldest task has
  // waited max_queue_delay_us, or the batcher is stopping) and hands it to the batch
  // function on the calling thread. Returns true if it formed a batch or dropped tasks.
  bool ProcessOneBatch() {
    std::vector<std::unique_ptr<Task>> batch, dropped_expired, dropped_cancelled;
    {
      absl::MutexLock lock(&mu_);
      if (!TakeDueBatchLocked(clock_->Now(), &batch, &dropped_expired, &dropped_cancelled)) {
        return false;
      }
    }
    for (auto& t : dropped_expired) {
      t->Fail(absl::DeadlineExceededError("deadline expired while queued"));
    }
    for (auto& t : dropped_cancelled) t->Fail(absl::CancelledError("cancelled while queued"));
    if (!batch.empty()) fn_(std::move(batch));
    return true;
  }

  // Stops accepting tasks; queued tasks are still dispatched (without waiting for the
  // delay) by the batch threads, which are then joined. Idempotent.
  void Shutdown() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      ++version_;
    }
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  size_t queue_size() const {
    absl::MutexLock lock(&mu_);
    return queued_;
  }

 private:
  struct Entry {
    std::unique_ptr<Task> task;
    absl::Time enqueued;
  };

  Batcher(const BatcherOptions& options, Clock* clock, ProcessBatchFn fn)
      : options_(options), clock_(clock), fn_(std::move(fn)) {
    for (int i = 0; i < options_.num_batch_threads; ++i) {
      threads_.emplace_back([this] {
        NameCurrentThread("ovseg-batch");  // For top -H and perf.
        if (options_.thread_init) options_.thread_init();
        BatchLoop();
      });
    }
  }

  absl::Duration delay() const { return absl::Microseconds(options_.max_queue_delay_us); }

  // The bucket whose batch is due first and the time it is due; end() when nothing waits.
  typename std::map<std::string, std::deque<Entry>>::iterator NextDueLocked(absl::Time* due)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto best = buckets_.end();
    for (auto it = buckets_.begin(); it != buckets_.end(); ++it) {
      if (it->second.empty()) continue;
      const bool full = it->second.size() >= static_cast<size_t>(options_.max_batch_size);
      const absl::Time t =
          (full || stopping_) ? absl::InfinitePast() : it->second.front().enqueued + delay();
      const absl::Time oldest = it->second.front().enqueued;
      if (best == buckets_.end() || t < *due ||
          (t == *due && oldest < best->second.front().enqueued)) {
        best = it;
        *due = t;
      }
    }
    return best;
  }

  bool TakeDueBatchLocked(absl::Time now, std::vector<std::unique_ptr<Task>>* batch,
                          std::vector<std::unique_ptr<Task>>* expired,
                          std::vector<std::unique_ptr<Task>>* cancelled)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::Time due;
    auto it = NextDueLocked(&due);
    if (it == buckets_.end() || due > now) return false;
    std::deque<Entry>& q = it->second;
    while (!q.empty() && batch->size() < static_cast<size_t>(options_.max_batch_size)) {
      std::unique_ptr<Task> task = std::move(q.front().task);
      q.pop_front();
      --queued_;
      if (task->IsCancelled()) {
        cancelled->push_back(std::move(task));
      } else if (task->deadline() <= now) {
        expired->push_back(std::move(task));
      } else {
        batch->push_back(std::move(task));
      }
    }
    if (q.empty()) buckets_.erase(it);
    return true;
  }

  void BatchLoop() {
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](Batcher* b)
                 ABSL_EXCLUSIVE_LOCKS_REQUIRED(b->mu_) { return b->stopping_ || b->queued_ > 0; },
            this));
        if (stopping_ && queued_ == 0) return;
        absl::Time due;
        NextDueLocked(&due);
        // Wait for the oldest task's delay to pass, waking early when the queue changes
        // (a bucket may fill up) or the batcher stops.
        const uint64_t seen = version_;
        auto changed = [this, seen]()
                           ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return version_ != seen; };
        if (due > clock_->Now()) {
          mu_.AwaitWithDeadline(absl::Condition(&changed), due);
          continue;
        }
      }
      ProcessOneBatch();
    }
  }

  const BatcherOptions options_;
  Clock* const clock_;
  const ProcessBatchFn fn_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::deque<Entry>> buckets_ ABSL_GUARDED_BY(mu_);
  size_t queued_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace ovseg

#endif  // OVSEG_SERVER_BATCHING_BATCHER_H_
