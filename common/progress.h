// Progress of a long job (evaluation, training): on a terminal, one line redrawn in place
// with a bar, rate and ETA; in logs (not a terminal), a plain line every 10% so they stay
// readable. Thread-safe.
#ifndef OVSEG_COMMON_PROGRESS_H_
#define OVSEG_COMMON_PROGRESS_H_

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace ovseg {

class Progress {
 public:
  // `out` defaults to stderr; `terminal` to whether `out` is one.
  Progress(std::string what, int64_t total, std::FILE* out = stderr, int terminal = -1);
  // Adds `n` finished units; `extra` (e.g. "loss 0.31") is shown after the rate.
  void Advance(int64_t n = 1, const std::string& extra = "");
  void Finish();
  // "1:02:03" or "2:03".
  static std::string FormatDuration(absl::Duration d);

 private:
  void Draw(const std::string& extra) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Mutex mu_;
  std::string what_;
  int64_t total_, done_ ABSL_GUARDED_BY(mu_) = 0;
  int last_decile_ ABSL_GUARDED_BY(mu_) = -1;
  std::FILE* out_;
  bool terminal_;
  absl::Time start_;
  absl::Time last_draw_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace ovseg

#endif  // OVSEG_COMMON_PROGRESS_H_
