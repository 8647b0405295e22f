#include "server/checkpoint/checkpoint_watcher.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <tuple>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/sha256.h"

namespace ovseg {
namespace {

namespace fs = std::filesystem;

int64_t ModifiedNanos(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return -1;
  return int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
}

absl::StatusOr<std::string> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

}  // namespace

absl::StatusOr<std::unique_ptr<CheckpointWatcher>> CheckpointWatcher::Create(
    CheckpointWatcherOptions options, CheckpointStore* store) {
  if (!fs::is_directory(options.directory)) {
    return absl::NotFoundError(
        absl::StrCat("admin.watch_dir ", options.directory, ": no such directory"));
  }
  if (!options.activate) return absl::InvalidArgumentError("checkpoint watcher without activate");
  return std::unique_ptr<CheckpointWatcher>(new CheckpointWatcher(std::move(options), store));
}

CheckpointWatcher::CheckpointWatcher(CheckpointWatcherOptions options, CheckpointStore* store)
    : options_(std::move(options)), store_(store) {
  if (options_.interval == absl::InfiniteDuration()) return;
  thread_ = std::thread([this] {
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
        if (mu_.AwaitWithTimeout(absl::Condition(&stopping), options_.interval)) return;
      }
      ScanOnce();
    }
  });
}

CheckpointWatcher::~CheckpointWatcher() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

int CheckpointWatcher::ScanOnce() {
  absl::MutexLock scan_lock(&scan_mu_);
  std::vector<std::pair<std::string, int64_t>> ready;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(options_.directory, error)) {
    const std::string file = entry.path().filename().string();
    if (!absl::EndsWith(file, kCheckpointDoneSuffix)) continue;
    const std::string name = file.substr(0, file.size() - strlen(kCheckpointDoneSuffix));
    if (!absl::EndsWith(name, ".safetensors")) continue;
    const int64_t marker_time = ModifiedNanos(entry.path().string());
    absl::MutexLock lock(&mu_);
    const auto it = handled_.find(name);
    if (it == handled_.end() || it->second != marker_time) ready.push_back({name, marker_time});
  }
  // Oldest marker first, so the newest ends up active; names break ties.
  std::sort(ready.begin(), ready.end(), [](const auto& a, const auto& b) {
    return std::tie(a.second, a.first) < std::tie(b.second, b.first);
  });
  const bool catching_up = !scanned_;
  scanned_ = true;
  int handled = 0;
  auto handle = [&](const std::string& name, int64_t marker_time) {
    const absl::Status outcome = Ingest(name);
    {
      absl::MutexLock lock(&mu_);
      handled_[name] = marker_time;
    }
    if (options_.report) options_.report(name, outcome);
    ++handled;
    return outcome.ok();
  };
  if (!catching_up) {
    for (const auto& [name, marker_time] : ready) handle(name, marker_time);
    return handled;
  }
  // Catching up: newest first, until one activates; the older ones are history.
  bool active = false;
  for (auto it = ready.rbegin(); it != ready.rend(); ++it) {
    if (!active) {
      active = handle(it->first, it->second);
    } else {
      absl::MutexLock lock(&mu_);
      handled_[it->first] = it->second;
    }
  }
  return handled;
}

absl::Status CheckpointWatcher::Ingest(const std::string& name) {
  const std::string path = (fs::path(options_.directory) / name).string();
  absl::StatusOr<std::string> bytes = ReadAll(path);
  if (!bytes.ok()) return bytes.status();
  // The marker may carry the digest the writer computed: then the copy must match it.
  absl::StatusOr<std::string> marker = ReadAll(path + kCheckpointDoneSuffix);
  const std::string digest = Sha256Hex(*bytes);
  const std::string claimed(absl::StripAsciiWhitespace(marker.ok() ? *marker : ""));
  if (!claimed.empty() && claimed != digest) {
    return absl::DataLossError(
        absl::StrCat(path, ": sha256 ", digest, " does not match its marker's ", claimed));
  }
  // Already stored, the same bytes (a restart over a kept store, whose first scan sees
  // the directory again): activate the stored copy; the same name with other bytes is
  // refused below as an upload of an existing name would be.
  absl::StatusOr<v1::CheckpointInfo> kept = store_->Info(name);
  if (!kept.ok() || kept->sha256() != digest) {
    v1::CheckpointMetadata metadata;
    metadata.set_name(name);
    metadata.set_size_bytes(bytes->size());
    metadata.set_sha256(digest);
    absl::StatusOr<std::unique_ptr<CheckpointUpload>> upload = store_->BeginUpload(metadata);
    if (!upload.ok()) return upload.status();
    if (absl::Status s = (*upload)->Append(*bytes); !s.ok()) return s;
    absl::StatusOr<v1::CheckpointInfo> stored = (*upload)->Commit();
    if (!stored.ok()) return stored.status();
  }
  absl::StatusOr<std::string> stored_path = store_->PathOf(name);
  if (!stored_path.ok()) return stored_path.status();
  absl::StatusOr<std::string> version = options_.activate(name, *stored_path);
  return version.ok() ? absl::OkStatus() : version.status();
}

}  // namespace ovseg
