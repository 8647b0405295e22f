#include "server/service/wait_estimator.h"

#include <algorithm>
#include <cstdlib>

namespace ovseg {

WaitEstimator::WaitEstimator(int max_batch_size, int batch_threads)
    : max_batch_size_(std::max(1, max_batch_size)),
      batch_threads_(std::max(1, batch_threads)),
      by_size_(max_batch_size_ + 1) {}

void WaitEstimator::BatchStarted(int size, absl::Time now) {
  absl::MutexLock lock(&mu_);
  running_.push_back({std::clamp(size, 1, max_batch_size_), now});
}

void WaitEstimator::RecordBatch(double seconds, int size) {
  size = std::clamp(size, 1, max_batch_size_);
  absl::MutexLock lock(&mu_);
  // The earliest-started call of this size is the one that ended (one batch thread runs
  // one call at a time, and calls of a size end in the order they start closely enough).
  auto it = std::find_if(running_.begin(), running_.end(),
                         [size](const Running& r) { return r.size == size; });
  if (it != running_.end()) running_.erase(it);
  by_size_[size].Add(seconds);
}

void WaitEstimator::SeedBatch(double seconds, int size) {
  size = std::clamp(size, 1, max_batch_size_);
  absl::MutexLock lock(&mu_);
  if (by_size_[size].average == 0) by_size_[size].Add(std::max(seconds, 1e-9));
}

void WaitEstimator::Measured::Add(double seconds) {
  if (average > 0) {
    deviation = 0.8 * deviation + 0.2 * std::abs(seconds - average);
    average = 0.8 * average + 0.2 * seconds;
  } else {
    average = seconds;
  }
}

void WaitEstimator::RecordOverhead(double seconds) {
  absl::MutexLock lock(&mu_);
  overhead_.Add(std::max(seconds, 1e-9));
}

double WaitEstimator::OverheadSeconds() const {
  absl::MutexLock lock(&mu_);
  return overhead_.Expected();
}

bool WaitEstimator::HasMeasurement() const {
  absl::MutexLock lock(&mu_);
  return std::any_of(by_size_.begin(), by_size_.end(),
                     [](const Measured& m) { return m.average > 0; });
}

bool WaitEstimator::Idle() const {
  absl::MutexLock lock(&mu_);
  return running_.empty();
}

double WaitEstimator::TypicalBatchSeconds(int size) const {
  absl::MutexLock lock(&mu_);
  return BatchSecondsLocked(std::clamp(size, 1, max_batch_size_), /*typical=*/true);
}

double WaitEstimator::BatchSecondsLocked(int size, bool typical) const {
  auto expected = [this, typical](int k) {
    return typical ? by_size_[k].average : by_size_[k].Expected();
  };
  if (by_size_[size].average > 0) return expected(size);
  int nearest = 0;
  for (int k = 1; k <= max_batch_size_; ++k) {
    if (by_size_[k].average > 0 &&
        (nearest == 0 || std::abs(k - size) < std::abs(nearest - size))) {
      nearest = k;
    }
  }
  return nearest == 0 ? 0 : expected(nearest) * size / nearest;
}

double WaitEstimator::EstimateSeconds(size_t queued, absl::Time now) const {
  absl::MutexLock lock(&mu_);
  // Nothing queued and a batch thread free: it forms a batch of its own at once, beside
  // whatever runs (on 2 cores a lone request keeps about one busy, so a second batch
  // thread is what uses the other: docs/benchmarks.md, "Soak", session 23). A batch
  // measured while another ran is slower, and the measurements per size include that.
  if (queued == 0 && running_.size() < static_cast<size_t>(batch_threads_)) {
    return BatchSecondsLocked(1);
  }
  // The full batches ahead of it, then its own: behind running or queued work it forms
  // later, after more requests have joined it, so it is costed full too (the soak found
  // smaller guesses admitting requests that then ran late).
  const double full = BatchSecondsLocked(max_batch_size_);
  const size_t full_batches = queued / max_batch_size_;
  double seconds = static_cast<double>(full_batches) * full / batch_threads_ + full;
  for (const Running& r : running_) {
    const double left = BatchSecondsLocked(r.size) - absl::ToDoubleSeconds(now - r.start);
    seconds += std::max(0.0, left) / batch_threads_;
  }
  return seconds;
}

}  // namespace ovseg
