// How long a request arriving now would wait for the model, from measured batch times:
// what deadline-aware admission refuses on (SegmentProcessor::Submit). A request that
// cannot finish before its deadline is answered at once instead of occupying the queue
// and running after its client has given up (the hardening issue's F8: at 64 clients,
// 18.6 s of a 21 s median was queueing, and requests past their deadline still ran).
// Thread-safe.
#ifndef OVSEG_SERVER_SERVICE_WAIT_ESTIMATOR_H_
#define OVSEG_SERVER_SERVICE_WAIT_ESTIMATOR_H_

#include <cstddef>

#include "absl/synchronization/mutex.h"

namespace ovseg {

class WaitEstimator {
 public:
  // max_batch_size >= 1 requests per model call, batch_threads >= 1 calls at a time.
  WaitEstimator(int max_batch_size, int batch_threads);

  // One model call took `seconds`. Kept as an exponential moving average (weight 0.2 on
  // the newest), so the estimate follows load and model swaps within a few batches.
  void RecordBatch(double seconds);

  // Seconds until a request that finds `queued` requests ahead of it (decoding or
  // waiting) is computed: the batches ahead of it and its own, shared by the batch
  // threads, plus one more for the batch the model may be running now. 0 before any
  // batch was measured (nothing to go on: admit).
  double EstimateSeconds(size_t queued) const;

 private:
  const int max_batch_size_;
  const int batch_threads_;
  mutable absl::Mutex mu_;
  double batch_seconds_ ABSL_GUARDED_BY(mu_) = 0;
  bool measured_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace ovseg

#endif  // OVSEG_SERVER_SERVICE_WAIT_ESTIMATOR_H_
