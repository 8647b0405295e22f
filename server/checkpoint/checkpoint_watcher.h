// The watched-directory way in for checkpoints (config admin.watch_dir): a training job
// writes NAME.safetensors, then NAME.safetensors.done once the file is complete. Every
// scan stores each new marked checkpoint exactly as an upload would be stored (verified,
// copied into the checkpoint store) and activates it, in the order of their markers'
// modification times, so the most recently marked one ends up active. A file without
// its marker is never opened, so a partial write is never read; a checkpoint that fails
// is reported once and not retried until its marker changes (touching a marker again
// re-activates that checkpoint: a rollback).
//
// Across replicas (deploy/, docs/deploy.md "Checkpoints"): every replica watches the same
// shared directory, so all end on its most recently marked checkpoint that loads. The
// first scan of a process catches up without replaying history: it tries the marked
// checkpoints newest first and activates only the first that loads, so a new or restarted
// pod comes up on the same checkpoint as the others.
#ifndef OVSEG_SERVER_CHECKPOINT_CHECKPOINT_WATCHER_H_
#define OVSEG_SERVER_CHECKPOINT_CHECKPOINT_WATCHER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/checkpoint/checkpoint_store.h"

namespace ovseg {

struct CheckpointWatcherOptions {
  std::string directory;
  absl::Duration interval = absl::Seconds(5);
  // Activates a stored checkpoint (by its stored path); returns the model version.
  std::function<absl::StatusOr<std::string>(const std::string& name, const std::string& path)>
      activate;
  // Told about every checkpoint handled: its name and the outcome.
  std::function<void(const std::string& name, const absl::Status& outcome)> report;
};

inline constexpr char kCheckpointDoneSuffix[] = ".done";

class CheckpointWatcher {
 public:
  // Starts the background scans (none when interval is infinite: tests call ScanOnce).
  static absl::StatusOr<std::unique_ptr<CheckpointWatcher>> Create(CheckpointWatcherOptions options,
                                                                   CheckpointStore* store);
  ~CheckpointWatcher();

  // One scan; returns how many checkpoints it handled (activated or failed). The first
  // one catches up (above). Scans are serialised: the server's start-up catch-up and the
  // background scans may overlap.
  int ScanOnce();

 private:
  CheckpointWatcher(CheckpointWatcherOptions options, CheckpointStore* store);
  absl::Status Ingest(const std::string& name);

  const CheckpointWatcherOptions options_;
  CheckpointStore* const store_;
  absl::Mutex scan_mu_;  // held for a whole scan
  bool scanned_ ABSL_GUARDED_BY(scan_mu_) = false;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, int64_t> handled_ ABSL_GUARDED_BY(mu_);  // name -> marker mtime
  std::thread thread_;
};

}  // namespace ovseg

#endif  // OVSEG_SERVER_CHECKPOINT_CHECKPOINT_WATCHER_H_
