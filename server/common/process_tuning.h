// Process-wide settings for a serving process, applied once at the start of main() (the
// server binary and the benchmarks, so that benchmarks measure what production runs).
#ifndef OVSEG_SERVER_COMMON_PROCESS_TUNING_H_
#define OVSEG_SERVER_COMMON_PROCESS_TUNING_H_

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace ovseg {

// - glibc malloc: every request allocates image buffers of 1-50 MB. With the default
//   thresholds glibc returns freed heap tops to the kernel and maps them again on the next
//   request, so each request pays a page fault per 4 KiB (measured: ~10x more faults and
//   ~8% less JPEG throughput). Buffers up to 32 MiB stay in the heap and up to 64 MiB of
//   free heap top is kept per arena.
// - absl::Mutex: Debian builds abseil without NDEBUG, which leaves the lock-order cycle
//   detector on for every lock. Tests keep it; serving turns it off.
void ApplyServingProcessTuning();

// Hands freed heap memory back to the kernel (glibc's malloc_trim), at most once per
// `interval`. The thresholds above keep up to 64 MiB of free heap per arena for speed, and
// glibc keeps one arena per busy thread (up to 8 per core), so after peaks a serving
// process holds hundreds of megabytes it no longer uses; trimming now and then bounds
// that at the cost of one round of page faults per interval. Thread-safe; MaybeTrim is
// cheap when it does not trim.
class FreedMemoryTrimmer {
 public:
  explicit FreedMemoryTrimmer(absl::Duration interval) : interval_(interval) {}
  // Trims if `interval` has passed since the last trim. Returns whether it trimmed.
  bool MaybeTrim();

 private:
  const absl::Duration interval_;
  absl::Mutex mu_;
  absl::Time last_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

enum class CpuPolicy {
  kBatch,   // SCHED_BATCH: a woken thread does not preempt a running one.
  kNormal,  // SCHED_OTHER, the kernel default.
};

// Sets `policy` on every thread of the process. Threads started later inherit it from
// the thread that starts them, so it is best called before any thread starts. Why
// serving wants kBatch: ServerConfig.cpu_scheduling in proto/ovseg/v1/config.proto.
// An error names the thread and the errno; threads already set keep the new policy.
absl::Status SetProcessCpuPolicy(CpuPolicy policy);

// Sets `policy` on the calling thread alone (and so on the threads it starts later).
absl::Status SetCurrentThreadCpuPolicy(CpuPolicy policy);

// Raises the calling thread's nice value by `increment` (>= 0; later threads it starts
// inherit it). Why the model's batch threads take +10: kModelThreadNice. Raising one's
// own nice value needs no privilege.
absl::Status LowerCurrentThreadPriority(int increment);

// The nice increment of every thread that calls the model: the batch threads, the
// start's warm-up, the manager's thread (it loads and warms up a new version while the
// old one serves) and the threads that encode cold vocabularies. With two batch threads
// on two cores
// the model keeps every core busy, and the threads that answer a refusal, decode an image
// or write a response would wait for a model thread's time slice (the soak's refusals:
// p99 65 ms); at +10 a woken I/O thread runs almost at once, and the model still gets
// every cycle they leave (docs/benchmarks.md, "Soak", session 23).
inline constexpr int kModelThreadNice = 10;

// What a thread that calls the model does first (a ThreadPool's or a Batcher's
// thread_init): LowerCurrentThreadPriority(kModelThreadNice). A thread that cannot lower
// itself keeps the I/O threads' priority and works as before, so the error is dropped.
void EnterModelPriority();

// LibTorch intra-op threads for each of `batch_threads` model calls running side by side
// on `cpus` CPUs: the CPUs shared out, at least 1, so that concurrent calls do not
// oversubscribe the cores (4 threads on 2 cores ran each call 15% slower than 2 threads
// each on 1: the soak, session 23).
int IntraOpThreadsPerCall(int cpus, int batch_threads);

}  // namespace ovseg

#endif  // OVSEG_SERVER_COMMON_PROCESS_TUNING_H_
