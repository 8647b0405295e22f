#include "server/common/process_tuning.h"

#include <malloc.h>

#include "absl/synchronization/mutex.h"

namespace ovseg {

void ApplyServingProcessTuning() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace ovseg
