#include "server/service/wait_estimator.h"

#include <algorithm>

namespace ovseg {

WaitEstimator::WaitEstimator(int max_batch_size, int batch_threads)
    : max_batch_size_(std::max(1, max_batch_size)), batch_threads_(std::max(1, batch_threads)) {}

void WaitEstimator::RecordBatch(double seconds) {
  absl::MutexLock lock(&mu_);
  batch_seconds_ = measured_ ? 0.8 * batch_seconds_ + 0.2 * seconds : seconds;
  measured_ = true;
}

double WaitEstimator::EstimateSeconds(size_t queued) const {
  absl::MutexLock lock(&mu_);
  if (!measured_) return 0;
  const size_t batches = (queued + 1 + max_batch_size_ - 1) / max_batch_size_;
  const double rounds = static_cast<double>(batches) / batch_threads_ + 1.0;
  return rounds * batch_seconds_;
}

}  // namespace ovseg
