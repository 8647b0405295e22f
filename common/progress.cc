#include "common/progress.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ovseg {

Progress::Progress(std::string what, int64_t total, std::FILE* out, int terminal)
    : what_(std::move(what)),
      total_(std::max<int64_t>(total, 0)),
      out_(out),
      terminal_(terminal < 0 ? isatty(fileno(out)) != 0 : terminal != 0),
      start_(absl::Now()) {}

std::string Progress::FormatDuration(absl::Duration d) {
  int64_t s = std::max<int64_t>(0, absl::ToInt64Seconds(d));
  const int64_t h = s / 3600, m = (s / 60) % 60;
  s %= 60;
  return h > 0 ? absl::StrFormat("%d:%02d:%02d", h, m, s) : absl::StrFormat("%d:%02d", m, s);
}

void Progress::Advance(int64_t n, const std::string& extra) {
  absl::MutexLock lock(&mu_);
  done_ += n;
  Draw(extra);
}

void Progress::Finish() {
  absl::MutexLock lock(&mu_);
  last_draw_ = absl::InfinitePast();
  Draw("");
  if (terminal_) std::fputc('\n', out_);
  std::fflush(out_);
}

void Progress::Draw(const std::string& extra) {
  const absl::Time now = absl::Now();
  const double elapsed = absl::ToDoubleSeconds(now - start_);
  const double rate = elapsed > 0 ? done_ / elapsed : 0.0;
  const std::string eta =
      rate > 0 && total_ > done_ ? FormatDuration(absl::Seconds((total_ - done_) / rate)) : "0:00";
  const std::string tail = extra.empty() ? "" : absl::StrCat(", ", extra);
  if (terminal_) {
    if (now - last_draw_ < absl::Milliseconds(100) && done_ < total_) return;  // no flicker
    last_draw_ = now;
    constexpr int kWidth = 30;
    const int filled = total_ > 0 ? static_cast<int>(kWidth * std::min(done_, total_) / total_) : 0;
    std::fprintf(out_, "\r%s [%s%s] %lld/%lld, %.1f/s, ETA %s%s\033[K", what_.c_str(),
                 std::string(filled, '=').c_str(), std::string(kWidth - filled, ' ').c_str(),
                 static_cast<long long>(done_), static_cast<long long>(total_), rate, eta.c_str(),
                 tail.c_str());
    std::fflush(out_);
    return;
  }
  const int decile = total_ > 0 ? static_cast<int>(10 * std::min(done_, total_) / total_) : 10;
  if (decile == last_decile_) return;
  last_decile_ = decile;
  std::fprintf(out_, "%s: %lld/%lld (%d%%), %.1f/s, elapsed %s, ETA %s%s\n", what_.c_str(),
               static_cast<long long>(done_), static_cast<long long>(total_), decile * 10, rate,
               FormatDuration(now - start_).c_str(), eta.c_str(), tail.c_str());
  std::fflush(out_);
}

}  // namespace ovseg
