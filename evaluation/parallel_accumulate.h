// Runs work(i, accumulator) for i in [0, n) on a few threads, each into its own
// accumulator, then merges them: how the evaluators score many images at once. Stops at
// the first error and returns it.
#ifndef OVSEG_EVALUATION_PARALLEL_ACCUMULATE_H_
#define OVSEG_EVALUATION_PARALLEL_ACCUMULATE_H_

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/progress.h"

namespace ovseg {

// `make()` builds an empty accumulator; Accumulator has Merge(const Accumulator&).
template <typename Accumulator, typename Make, typename Work>
absl::StatusOr<Accumulator> ParallelAccumulate(size_t n, int threads, Make make, Work work,
                                               Progress* progress) {
  threads = std::max(1, std::min<int>(threads, static_cast<int>(std::max<size_t>(n, 1))));
  std::vector<Accumulator> parts;
  for (int t = 0; t < threads; ++t) parts.push_back(make());
  std::atomic<size_t> next{0};
  absl::Mutex mu;
  absl::Status first_error;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (size_t i = next++; i < n; i = next++) {
        {
          absl::MutexLock lock(&mu);
          if (!first_error.ok()) return;
        }
        absl::Status s = work(i, parts[t]);
        if (!s.ok()) {
          absl::MutexLock lock(&mu);
          if (first_error.ok()) first_error = s;
          return;
        }
        if (progress != nullptr) progress->Advance();
      }
    });
  }
  for (std::thread& t : pool) t.join();
  if (!first_error.ok()) return first_error;
  for (int t = 1; t < threads; ++t) parts[0].Merge(parts[t]);
  if (progress != nullptr) progress->Finish();
  return std::move(parts[0]);
}

}  // namespace ovseg

#endif  // OVSEG_EVALUATION_PARALLEL_ACCUMULATE_H_
