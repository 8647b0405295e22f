// Lifecycle of the server as the handlers see it: requests are accepted only while
// SERVING (after model load and warm-up, before drain).
#ifndef OVSEG_SERVER_SERVICE_SERVING_STATE_H_
#define OVSEG_SERVER_SERVICE_SERVING_STATE_H_

#include <atomic>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace ovseg {

class ServingState {
 public:
  enum State { kStarting, kServing, kDraining };

  void Set(State s) { state_.store(s); }
  State Get() const { return state_.load(); }

  // OK while serving, else UNAVAILABLE saying why.
  absl::Status CheckServing() const {
    switch (Get()) {
      case kServing:
        return absl::OkStatus();
      case kStarting:
        return absl::UnavailableError("server is warming up; retry shortly");
      case kDraining:
        return absl::UnavailableError("server is draining for shutdown");
    }
    return absl::UnavailableError("server is not serving");
  }

  // Shutdown has begun: readiness checks fail at once, so load balancers stop sending,
  // while requests are still served until the drain's grace period ends (Set(kDraining)).
  void AnnounceDrain() { drain_announced_.store(true); }
  bool drain_announced() const { return drain_announced_.load(); }

  // In-flight accounting for the drain: every accepted RPC enters once and leaves once.
  void Enter() {
    absl::MutexLock lock(&mu_);
    ++inflight_;
  }
  void Leave() {
    absl::MutexLock lock(&mu_);
    --inflight_;
  }
  int inflight() const {
    absl::MutexLock lock(&mu_);
    return inflight_;
  }
  // True when no RPC is in flight before `deadline`.
  bool WaitIdle(absl::Time deadline) const {
    absl::MutexLock lock(&mu_);
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return inflight_ == 0; };
    return mu_.AwaitWithDeadline(absl::Condition(&idle), deadline);
  }

 private:
  std::atomic<State> state_{kStarting};
  std::atomic<bool> drain_announced_{false};
  mutable absl::Mutex mu_;
  int inflight_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ovseg

#endif  // OVSEG_SERVER_SERVICE_SERVING_STATE_H_
