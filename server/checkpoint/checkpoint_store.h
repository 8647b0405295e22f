// Submitted checkpoints on disk: streamed uploads into a temporary file, verified (size,
// sha256, safetensors header), fsynced and renamed into place; a JSON sidecar records the
// digest and time; the newest keep_last are kept, and never the active one. Which
// checkpoint is active is recorded in the directory too (active.json, replaced atomically),
// so that a restart, or kill -9, comes back on it. Thread-safe.
#ifndef OVSEG_SERVER_CHECKPOINT_CHECKPOINT_STORE_H_
#define OVSEG_SERVER_CHECKPOINT_CHECKPOINT_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/sha256.h"
#include "ovseg/v1/admin.pb.h"

namespace ovseg {

// Whether a complete, digest-checked upload (its temporary path) loads into the serving
// model; the server builds a standby model from it and discards it. An upload it refuses
// is deleted, never listed and never counted toward keep_last, so a broken file cannot
// push good rollback checkpoints out. Called on the thread that calls Commit() (the
// server's: the servable manager's), without the store's lock.
using CheckpointValidator = std::function<absl::Status(const std::string& path)>;

struct CheckpointStoreOptions {
  std::string directory;
  uint64_t max_bytes = uint64_t{1} << 30;
  int keep_last = 5;
  CheckpointValidator validate;  // Empty: header checks only.
};

class CheckpointStore;

// One upload in progress. Destroying it without Commit() removes the temporary file.
class CheckpointUpload {
 public:
  ~CheckpointUpload();
  absl::Status Append(const std::string& data);
  // Verifies and publishes the file; returns its info.
  absl::StatusOr<v1::CheckpointInfo> Commit();

 private:
  friend class CheckpointStore;
  CheckpointUpload(CheckpointStore* store, v1::CheckpointMetadata metadata, std::string temp_path,
                   int fd);

  CheckpointStore* store_;
  v1::CheckpointMetadata metadata_;
  std::string temp_path_;
  int fd_;
  uint64_t received_ = 0;
  Sha256 hasher_;
  bool committed_ = false;
};

class CheckpointStore {
 public:
  static absl::StatusOr<std::unique_ptr<CheckpointStore>> Create(
      const CheckpointStoreOptions& options);

  // Validates the metadata (name, size, digest form) and opens a temporary file.
  absl::StatusOr<std::unique_ptr<CheckpointUpload>> BeginUpload(
      const v1::CheckpointMetadata& metadata);

  // Newest first.
  absl::StatusOr<std::vector<v1::CheckpointInfo>> List() const;
  absl::StatusOr<std::string> PathOf(const std::string& name) const;
  // One stored checkpoint's info (NOT_FOUND if absent).
  absl::StatusOr<v1::CheckpointInfo> Info(const std::string& name) const;

  // Records `name` as the serving checkpoint, in memory and on disk (fsynced before this
  // returns). An error means only the disk record failed: `name` is active regardless.
  absl::Status SetActive(const std::string& name);
  // No stored checkpoint serves (the recorded one failed to load at start); the record on
  // disk stays, so the next start tries it again.
  void ForgetActive();
  // The active checkpoint's name; "" when the config's own model serves. Right after
  // Create(), the one recorded on disk (if it still exists), which the server restores.
  std::string active() const;

 private:
  friend class CheckpointUpload;
  explicit CheckpointStore(const CheckpointStoreOptions& options) : options_(options) {}
  absl::StatusOr<v1::CheckpointInfo> Publish(const v1::CheckpointMetadata& metadata,
                                             const std::string& temp_path);
  absl::StatusOr<v1::CheckpointInfo> ReadInfo(const std::string& name) const;
  void PruneLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string ReadActiveRecord() const;

  const CheckpointStoreOptions options_;
  mutable absl::Mutex mu_;
  std::string active_ ABSL_GUARDED_BY(mu_);
};

// The active checkpoint's record in the store's directory (not a checkpoint name).
inline constexpr char kActiveRecordName[] = "active.json";

// [A-Za-z0-9._-]{1,128} ending in ".safetensors", not starting with '.'.
bool IsValidCheckpointName(const std::string& name);

}  // namespace ovseg

#endif  // OVSEG_SERVER_CHECKPOINT_CHECKPOINT_STORE_H_
