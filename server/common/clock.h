// Time source for components whose behaviour depends on time (the batcher), so tests can
// drive them with a fake clock.
#ifndef OVSEG_SERVER_COMMON_CLOCK_H_
#define OVSEG_SERVER_COMMON_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace ovseg {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  // Process-wide instance; never destroyed.
  static RealClock* Get() {
    static RealClock* clock = new RealClock;
    return clock;
  }
};

}  // namespace ovseg

#endif  // OVSEG_SERVER_COMMON_CLOCK_H_
