// The model lifecycle in one place (docs/design.md, "The servable and its manager"): which
// version serves, and every change of it. Loads a stored checkpoint into a new Servable
// beside the serving one, warms it up, makes it current, records the transition (the
// model-version gauge, the checkpoint-event counter, a log line) and persists it in the
// checkpoint store, so that a restart, or kill -9, comes back on it. Activating an older
// checkpoint is a rollback. A failed load of any kind (a bad file, an error, an exception,
// an allocation failure) leaves the serving version untouched and is reported.
//
// Threading: loads and warm-ups run on the manager's own thread, one at a time, never on
// a gRPC thread or a batch thread; Current() is cheap and may be called from anywhere.
// The admin service, the watched directory and start-up all go through this class.
#ifndef OVSEG_SERVER_LIFECYCLE_SERVABLE_MANAGER_H_
#define OVSEG_SERVER_LIFECYCLE_SERVABLE_MANAGER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/checkpoint/checkpoint_store.h"
#include "server/common/thread_pool.h"
#include "server/lifecycle/servable.h"
#include "server/metrics/request_log.h"
#include "server/metrics/server_metrics.h"
#include "server/vocabulary/vocabulary_cache.h"

namespace ovseg {

struct ServableManagerOptions {
  // Builds a checkpoint's model; empty: this model loads no checkpoints, and activation
  // is refused with FAILED_PRECONDITION.
  ServableLoader load;
  // Runs a new version's first batches before it serves; empty: none.
  std::function<absl::Status(const Servable&)> warm_up;
  // Where stored checkpoints are found and the active one is recorded. Required.
  CheckpointStore* store = nullptr;
  // Its entries of a replaced text encoder are dropped on a swap; may be null.
  VocabularyCache* cache = nullptr;
  ServerMetrics* metrics = nullptr;  // Required.
  RequestLog* log = nullptr;         // May be null.
  // Activations waiting behind the one in progress; more are refused (RESOURCE_EXHAUSTED).
  int max_queued = 8;
  // Called first on the manager's thread, which loads and warms up new versions while
  // the serving one answers: the server gives it the model threads' lower priority, so
  // that a swap's warm-up does not delay the I/O threads' answers (empty: none).
  std::function<void()> thread_init;
};

class ServableManager {
 public:
  // Serves `initial` (the config's own model) until an activation replaces it. Every
  // pointer in `options` must outlive the manager.
  ServableManager(ServableManagerOptions options, ServableSnapshot initial);
  // Finishes the activation in progress; queued ones are answered UNAVAILABLE.
  ~ServableManager();

  // The serving version. A request keeps what this returned for its whole life.
  ServableSnapshot Current() const;

  // The answer to an activation: the new version id, or why the old one still serves.
  using Done = std::function<void(const absl::StatusOr<std::string>& version)>;
  // Queues the activation of stored checkpoint `name` and returns at once; `done` is called
  // exactly once, on the manager's thread (or on this one when it cannot be queued).
  void ActivateAsync(const std::string& name, Done done);
  // The same, waiting for the answer. Not for gRPC or batch threads.
  absl::StatusOr<std::string> Activate(const std::string& name);

  // Runs `task` on the manager's thread, in order with activations: for other work that
  // loads a model (an upload's load check), so that no gRPC thread ever does, and no two
  // standby models are built at once. False when it cannot be queued (shutting down, or
  // max_queued already waiting); the caller answers.
  bool RunInOrder(std::function<void()> task);

  // Whether the file at `path` loads into this model, behind the same exception boundary
  // as an activation; nothing is kept. For the store's check of an upload, which runs on
  // the manager's thread (RunInOrder).
  absl::Status CheckLoads(const std::string& path);

  // At start-up, before serving: activates the checkpoint the store recorded as active
  // (nothing when there is none). On failure the initial version keeps serving, the
  // record stays on disk for the next start, and the error is returned for the log.
  absl::Status RestoreRecordedActive();

  // Answers queued activations UNAVAILABLE and waits for the one in progress. Idempotent.
  void Shutdown();

 private:
  // Manager thread: load, warm up, swap, record.
  absl::StatusOr<std::string> ActivateNow(const std::string& name);
  // Load (and, with `warm`, warm-up) behind the exception boundary.
  absl::StatusOr<ServableSnapshot> Build(const std::string& name, const std::string& path,
                                         const std::string& version, bool warm);
  void Swap(ServableSnapshot next);
  void Report(const std::string& name, const absl::Status& outcome, const std::string& version);

  const ServableManagerOptions options_;
  mutable absl::Mutex mu_;
  ServableSnapshot current_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // One thread: activations run in order.
  std::unique_ptr<ThreadPool> thread_ ABSL_GUARDED_BY(mu_);
};

// The version id of a model file: the first 16 hex digits of its SHA-256, the same on
// every replica and across restarts, and different for any two different files whatever
// their names.
std::string VersionIdOfDigest(const std::string& sha256_hex);

}  // namespace ovseg

#endif  // OVSEG_SERVER_LIFECYCLE_SERVABLE_MANAGER_H_
