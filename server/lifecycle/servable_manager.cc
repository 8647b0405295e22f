#include "server/lifecycle/servable_manager.h"

#include <future>
#include <new>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace ovseg {

std::string VersionIdOfDigest(const std::string& sha256_hex) { return sha256_hex.substr(0, 16); }

ServableManager::ServableManager(ServableManagerOptions options, ServableSnapshot initial)
    : options_(std::move(options)),
      current_(std::move(initial)),
      thread_(std::make_unique<ThreadPool>(1, static_cast<size_t>(options_.max_queued),
                                           "ovseg-manager", options_.thread_init)) {
  options_.metrics->SetModelVersion(current_->version(), current_->checkpoint());
}

ServableManager::~ServableManager() { Shutdown(); }

void ServableManager::Shutdown() {
  std::unique_ptr<ThreadPool> thread;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    thread = std::move(thread_);
  }
  thread.reset();  // Runs what is queued (each answers UNAVAILABLE at once), then joins.
}

ServableSnapshot ServableManager::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

void ServableManager::ActivateAsync(const std::string& name, Done done) {
  auto job = [this, name, done] {
    bool stopping;
    {
      absl::MutexLock lock(&mu_);
      stopping = stopping_;
    }
    done(stopping ? absl::StatusOr<std::string>(
                        absl::UnavailableError("server is shutting down; activation not run"))
                  : ActivateNow(name));
  };
  absl::Status refused;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ || thread_ == nullptr) {
      refused = absl::UnavailableError("server is shutting down; activation not run");
    } else if (!thread_->TrySchedule(std::move(job))) {
      refused = absl::ResourceExhaustedError(
          absl::StrCat("activation of ", name, " refused: ", options_.max_queued,
                       " activations are already waiting behind the one in progress"));
    }
  }
  if (!refused.ok()) done(refused);
}

bool ServableManager::RunInOrder(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  return !stopping_ && thread_ != nullptr && thread_->TrySchedule(std::move(task));
}

absl::StatusOr<std::string> ServableManager::Activate(const std::string& name) {
  auto answer = std::make_shared<std::promise<absl::StatusOr<std::string>>>();
  std::future<absl::StatusOr<std::string>> future = answer->get_future();
  ActivateAsync(name, [answer](const absl::StatusOr<std::string>& v) { answer->set_value(v); });
  return future.get();
}

absl::Status ServableManager::RestoreRecordedActive() {
  const std::string recorded = options_.store->active();
  if (recorded.empty()) return absl::OkStatus();
  absl::StatusOr<std::string> version = Activate(recorded);
  if (version.ok()) return absl::OkStatus();
  options_.store->ForgetActive();
  return absl::Status(
      version.status().code(),
      absl::StrCat("the recorded active checkpoint ", recorded,
                   " was not restored; the config's model serves: ", version.status().message()));
}

absl::StatusOr<std::string> ServableManager::ActivateNow(const std::string& name) {
  absl::StatusOr<std::string> path = options_.store->PathOf(name);
  absl::StatusOr<v1::CheckpointInfo> info =
      path.ok() ? options_.store->Info(name) : absl::StatusOr<v1::CheckpointInfo>(path.status());
  absl::StatusOr<ServableSnapshot> next =
      info.ok() ? Build(name, *path, VersionIdOfDigest(info->sha256()), /*warm=*/true)
                : absl::StatusOr<ServableSnapshot>(info.status());
  if (!next.ok()) {
    Report(name, next.status(), "");
    return next.status();
  }
  const std::string version = (*next)->version();
  Swap(*std::move(next));
  absl::Status recorded = options_.store->SetActive(name);
  // Serving the new version either way; a record that failed only matters at the next
  // start, and the report says so.
  Report(name, recorded, version);
  return version;
}

absl::StatusOr<ServableSnapshot> ServableManager::Build(const std::string& name,
                                                        const std::string& path,
                                                        const std::string& version, bool warm) {
  if (!options_.load) {
    return absl::FailedPreconditionError(
        "the serving model cannot load checkpoints (it was built without a checkpoint loader)");
  }
  // The exception boundary of a load: whatever a loader or a warm-up throws, an allocation
  // failure included, is this load's error, and the serving version is untouched.
  try {
    absl::StatusOr<ServingModel> model = options_.load(path);
    if (!model.ok()) return model.status();
    if (model->pipeline == nullptr || model->text_encoder == nullptr) {
      return absl::InternalError(absl::StrCat("loading ", name, " gave no pipeline or encoder"));
    }
    options_.metrics->RecordCheckpointEvent(CheckpointEvent::kLoad);
    auto servable = std::make_shared<const Servable>(version, name, *std::move(model));
    if (warm && options_.warm_up) {
      if (absl::Status s = options_.warm_up(*servable); !s.ok()) {
        return absl::Status(s.code(), absl::StrCat("warm-up of ", name, ": ", s.message()));
      }
    }
    return ServableSnapshot(std::move(servable));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrCat("loading ", name, ": out of memory; the serving version is unchanged"));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("loading ", name, ": ", e.what()));
  }
}

absl::Status ServableManager::CheckLoads(const std::string& path) {
  return Build(path, path, /*version=*/"", /*warm=*/false).status();
}

void ServableManager::Swap(ServableSnapshot next) {
  ServableSnapshot previous;
  {
    absl::MutexLock lock(&mu_);
    previous = std::exchange(current_, next);
  }
  // Requests admitted before this point keep `previous` until they finish; it is freed
  // with the last of them.
  if (options_.cache != nullptr) options_.cache->RetainOnly(next->text_encoder().Fingerprint());
  options_.metrics->SetModelVersion(next->version(), next->checkpoint());
}

void ServableManager::Report(const std::string& name, const absl::Status& outcome,
                             const std::string& version) {
  options_.metrics->RecordCheckpointEvent(version.empty() ? CheckpointEvent::kFailure
                                                          : CheckpointEvent::kSwap);
  if (options_.log == nullptr) return;
  nlohmann::json fields = {{"checkpoint", name}};
  if (!version.empty()) fields["model_version"] = version;
  options_.log->Log("lifecycle", version.empty() ? "ActivateFailed" : "Activated", outcome,
                    std::move(fields));
}

}  // namespace ovseg
