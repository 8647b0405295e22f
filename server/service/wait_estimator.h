// How long a request arriving now would wait for the model, from measured batch times:
// what deadline-aware admission refuses on (SegmentProcessor::Submit). A request that
// cannot finish before its deadline is answered at once instead of occupying the queue
// and running after its client has given up (the hardening issue's F8: at 64 clients,
// 18.6 s of a 21 s median was queueing, and requests past their deadline still ran).
// Batch time depends on the batch's size (a lone request costs a fraction of a full
// batch), so it is measured per size. Thread-safe.
#ifndef OVSEG_SERVER_SERVICE_WAIT_ESTIMATOR_H_
#define OVSEG_SERVER_SERVICE_WAIT_ESTIMATOR_H_

#include <cstddef>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace ovseg {

class WaitEstimator {
 public:
  // max_batch_size >= 1 requests per model call, batch_threads >= 1 calls at a time.
  WaitEstimator(int max_batch_size, int batch_threads);

  // A model call of `size` requests starts at `now`; every BatchStarted is followed by one
  // RecordBatch of the same size when it ends.
  void BatchStarted(int size, absl::Time now);
  // A model call of `size` requests took `seconds`. Kept per size as exponential moving
  // averages (weight 0.2 on the newest) of the time and of its absolute deviation, so the
  // estimate follows load and model swaps within a few batches. A batch's expected time is
  // the average plus twice the deviation: an estimate a batch seldom exceeds, since a
  // request admitted on it must finish before its deadline (the soak found the plain
  // average admitting a quarter of its requests into lateness).
  void RecordBatch(double seconds, int size);

  // A model call of `size` requests made outside serving (the warm-up, before the server
  // admits anything) took `seconds`: taken as that size's measurement only while none was
  // made by serving, so admission has something to go on from the first request (the
  // soak found the first 2 s of an unmeasured server admitting everyone into a 7 s first
  // batch) and a later version's warm-up, which shares the machine with serving, does not
  // disturb what serving measured. Touches no running call.
  void SeedBatch(double seconds, int size);

  // A request's own work outside the model took `seconds`: decoding its image and regions
  // before the queue, encoding its answer after the model. Kept as the batch times are
  // (moving average + 2 deviations); a cold vocabulary's encoding is not included (rare,
  // and seconds long: it would make every estimate pessimistic).
  void RecordOverhead(double seconds);

  // The expected decode + encode time of a request (0 before any was measured): a request
  // must finish these as well as its wait for the model before its deadline.
  double OverheadSeconds() const;

  // The average time of a model call of `size` requests (no deviation added; scaled from
  // the nearest measured size; 0 when nothing is measured): when a batch that forms now
  // is most likely to end.
  double TypicalBatchSeconds(int size) const;

  // Whether any batch time was measured or seeded.
  bool HasMeasurement() const;

  // Whether no model call is running.
  bool Idle() const;

  // Seconds from `now` until a request that finds `queued` requests ahead of it (decoding
  // or waiting) is computed. With nothing queued and a batch thread free (none running
  // on it), it starts at once: a lone request's batch. Otherwise what is left of the
  // batches running now, the full batches ahead of it and its own batch (full too: others
  // join it while it waits), shared by the batch threads. 0 before any batch was measured
  // (nothing to go on: admit).
  double EstimateSeconds(size_t queued, absl::Time now) const;

 private:
  // The expected time of a batch of `size` (average + 2 deviations; `typical`: the
  // average alone), or, unmeasured, the nearest measured size's scaled linearly; 0 when
  // nothing is measured.
  double BatchSecondsLocked(int size, bool typical = false) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int max_batch_size_;
  const int batch_threads_;
  mutable absl::Mutex mu_;
  struct Measured {
    double average = 0;    // seconds; 0: not measured
    double deviation = 0;  // seconds
    void Add(double seconds);
    double Expected() const { return average + 2 * deviation; }
  };
  std::vector<Measured> by_size_ ABSL_GUARDED_BY(mu_);  // [size]
  Measured overhead_ ABSL_GUARDED_BY(mu_);
  struct Running {
    int size;
    absl::Time start;
  };
  std::vector<Running> running_ ABSL_GUARDED_BY(mu_);  // the model calls running now
};

}  // namespace ovseg

#endif  // OVSEG_SERVER_SERVICE_WAIT_ESTIMATOR_H_
