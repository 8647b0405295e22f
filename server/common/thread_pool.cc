#include "server/common/thread_pool.h"

#include <utility>

#include "server/common/thread_name.h"

namespace ovseg {

ThreadPool::ThreadPool(int num_threads, size_t max_queue, std::string name,
                       std::function<void()> thread_init)
    : max_queue_(max_queue) {
  if (num_threads < 1) num_threads = 1;
  threads_.reserve(num_threads);
  for (int i = 0; i < num_threads; ++i) {
    threads_.emplace_back([this, name, thread_init] {
      NameCurrentThread(name);
      if (thread_init) thread_init();
      WorkLoop();
    });
  }
}

ThreadPool::~ThreadPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

bool ThreadPool::TrySchedule(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || (max_queue_ > 0 && queue_.size() >= max_queue_)) return false;
  queue_.push_back(std::move(task));
  return true;
}

size_t ThreadPool::queued() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

void ThreadPool::WorkLoop() {
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](ThreadPool* p)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) { return p->stopping_ || !p->queue_.empty(); },
          this));
      if (queue_.empty()) return;  // Stopping and drained.
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace ovseg
