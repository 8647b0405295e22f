#include "server/checkpoint/checkpoint_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/client_text.h"
#include "common/sha256.h"
#include "model/safetensors/safetensors_header.h"

namespace ovseg {
namespace fs = std::filesystem;
namespace {

absl::Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

absl::Status FsyncPath(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) return Errno(absl::StrCat("open ", path));
  const int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? absl::OkStatus() : Errno(absl::StrCat("fsync ", path));
}

// Replaces `path` with `contents` so that a crash at any point leaves either the old file
// or the new one, whole: a temporary file, fsynced, renamed over it, the directory fsynced.
absl::Status WriteFileAtomically(const std::string& directory, const std::string& path,
                                 const std::string& contents) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << contents;
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", temp));
  }
  if (absl::Status s = FsyncPath(temp, O_RDONLY); !s.ok()) return s;
  if (::rename(temp.c_str(), path.c_str()) != 0) return Errno(absl::StrCat("rename ", temp));
  return FsyncPath(directory, O_RDONLY | O_DIRECTORY);
}

}  // namespace

bool IsValidCheckpointName(const std::string& name) {
  if (name.empty() || name.size() > 128 || name[0] == '.') return false;
  if (!absl::EndsWith(name, ".safetensors")) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

CheckpointUpload::CheckpointUpload(CheckpointStore* store, v1::CheckpointMetadata metadata,
                                   std::string temp_path, int fd)
    : store_(store), metadata_(std::move(metadata)), temp_path_(std::move(temp_path)), fd_(fd) {}

CheckpointUpload::~CheckpointUpload() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_path_.c_str());
}

absl::Status CheckpointUpload::Append(const std::string& data) {
  if (received_ + data.size() > metadata_.size_bytes()) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint data exceeds the declared size_bytes = ", metadata_.size_bytes()));
  }
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd_, data.data() + written, data.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write checkpoint");
    }
    written += static_cast<size_t>(n);
  }
  hasher_.Update(data);
  received_ += data.size();
  return absl::OkStatus();
}

absl::StatusOr<v1::CheckpointInfo> CheckpointUpload::Commit() {
  if (received_ != metadata_.size_bytes()) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint upload ended after ", received_,
                                                   " of ", metadata_.size_bytes(), " bytes"));
  }
  const std::string digest = hasher_.HexDigest();
  if (digest != metadata_.sha256()) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint sha256 mismatch: received data has ",
                                                   digest, ", metadata says ", metadata_.sha256()));
  }
  if (::fsync(fd_) != 0) return Errno("fsync checkpoint");
  ::close(fd_);
  fd_ = -1;
  absl::StatusOr<SafetensorsHeader> header = ReadSafetensorsHeader(temp_path_);
  if (!header.ok()) return header.status();
  if (store_->options_.validate) {
    if (absl::Status s = store_->options_.validate(temp_path_); !s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "checkpoint ", metadata_.name(),
          " does not load into this server's model, so it was not stored: ", s.message()));
    }
  }
  absl::StatusOr<v1::CheckpointInfo> info = store_->Publish(metadata_, temp_path_);
  if (info.ok()) committed_ = true;
  return info;
}

absl::StatusOr<std::unique_ptr<CheckpointStore>> CheckpointStore::Create(
    const CheckpointStoreOptions& options) {
  std::error_code ec;
  fs::create_directories(options.directory, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("admin.checkpoint_dir ", options.directory, ": ", ec.message()));
  }
  std::unique_ptr<CheckpointStore> store(new CheckpointStore(options));
  std::string recorded = store->ReadActiveRecord();
  {
    absl::MutexLock lock(&store->mu_);
    store->active_ = std::move(recorded);
  }
  return store;
}

std::string CheckpointStore::ReadActiveRecord() const {
  std::ifstream in(fs::path(options_.directory) / kActiveRecordName);
  if (!in) return "";
  const nlohmann::json record = nlohmann::json::parse(in, nullptr, false);
  if (record.is_discarded() || !record.is_object()) return "";
  const std::string name = record.value("name", "");
  // A record naming a file that is gone (removed by hand) restores nothing.
  if (!IsValidCheckpointName(name) || !fs::exists(fs::path(options_.directory) / name)) return "";
  return name;
}

absl::StatusOr<std::unique_ptr<CheckpointUpload>> CheckpointStore::BeginUpload(
    const v1::CheckpointMetadata& metadata) {
  if (!IsValidCheckpointName(metadata.name())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metadata.name ", QuoteClientText(metadata.name()),
        ": expected [A-Za-z0-9._-]{1,128} ending in .safetensors, not starting with '.'"));
  }
  if (metadata.size_bytes() < 8 || metadata.size_bytes() > options_.max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("metadata.size_bytes ", metadata.size_bytes(),
                     ": must be in [8, admin.max_checkpoint_bytes = ", options_.max_bytes, "]"));
  }
  if (!IsSha256Hex(metadata.sha256())) {
    return absl::InvalidArgumentError("metadata.sha256: expected 64 lowercase hex digits");
  }
  if (fs::exists(fs::path(options_.directory) / metadata.name())) {
    return absl::AlreadyExistsError(absl::StrCat("checkpoint ", metadata.name(), " exists"));
  }
  std::string temp = (fs::path(options_.directory) / ".upload-XXXXXX").string();
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) return Errno("create temporary checkpoint file");
  return std::unique_ptr<CheckpointUpload>(new CheckpointUpload(this, metadata, temp, fd));
}

absl::StatusOr<v1::CheckpointInfo> CheckpointStore::Publish(const v1::CheckpointMetadata& metadata,
                                                            const std::string& temp_path) {
  absl::MutexLock lock(&mu_);
  const fs::path final_path = fs::path(options_.directory) / metadata.name();
  if (fs::exists(final_path)) {
    return absl::AlreadyExistsError(absl::StrCat("checkpoint ", metadata.name(), " exists"));
  }
  const nlohmann::json sidecar = {{"sha256", metadata.sha256()},
                                  {"size_bytes", metadata.size_bytes()},
                                  {"stored_unix_seconds", absl::ToUnixSeconds(absl::Now())}};
  const std::string sidecar_path = final_path.string() + ".json";
  if (absl::Status s = WriteFileAtomically(options_.directory, sidecar_path, sidecar.dump());
      !s.ok()) {
    return s;
  }
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0) return Errno("rename checkpoint");
  if (absl::Status s = FsyncPath(options_.directory, O_RDONLY | O_DIRECTORY); !s.ok()) return s;
  PruneLocked();
  return ReadInfo(metadata.name());
}

absl::StatusOr<v1::CheckpointInfo> CheckpointStore::ReadInfo(const std::string& name) const {
  const fs::path path = fs::path(options_.directory) / name;
  std::ifstream in(path.string() + ".json");
  const nlohmann::json sidecar = nlohmann::json::parse(in, nullptr, false);
  if (sidecar.is_discarded()) {
    return absl::DataLossError(absl::StrCat("checkpoint ", name, ": missing or corrupt sidecar"));
  }
  absl::StatusOr<SafetensorsHeader> header = ReadSafetensorsHeader(path.string());
  if (!header.ok()) return header.status();
  v1::CheckpointInfo info;
  info.set_name(name);
  info.set_sha256(sidecar.value("sha256", ""));
  info.set_size_bytes(sidecar.value("size_bytes", uint64_t{0}));
  info.set_stored_unix_seconds(sidecar.value("stored_unix_seconds", int64_t{0}));
  info.set_num_tensors(static_cast<uint32_t>(header->tensors.size()));
  for (const auto& [k, v] : header->metadata) (*info.mutable_metadata())[k] = v;
  return info;
}

absl::StatusOr<std::vector<v1::CheckpointInfo>> CheckpointStore::List() const {
  std::vector<v1::CheckpointInfo> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.directory, ec)) {
    const std::string name = entry.path().filename().string();
    if (!IsValidCheckpointName(name)) continue;
    absl::StatusOr<v1::CheckpointInfo> info = ReadInfo(name);
    if (!info.ok()) continue;  // A file being published or damaged by hand; not listed.
    info->set_active(name == active());
    out.push_back(*std::move(info));
  }
  if (ec) return absl::InternalError(absl::StrCat("list checkpoints: ", ec.message()));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.stored_unix_seconds() != b.stored_unix_seconds()
               ? a.stored_unix_seconds() > b.stored_unix_seconds()
               : a.name() > b.name();
  });
  return out;
}

void CheckpointStore::PruneLocked() {
  std::vector<std::pair<int64_t, std::string>> stored;
  for (const auto& entry : fs::directory_iterator(options_.directory)) {
    const std::string name = entry.path().filename().string();
    if (!IsValidCheckpointName(name)) continue;
    absl::StatusOr<v1::CheckpointInfo> info = ReadInfo(name);
    stored.emplace_back(info.ok() ? info->stored_unix_seconds() : 0, name);
  }
  std::sort(stored.rbegin(), stored.rend());
  for (size_t i = static_cast<size_t>(options_.keep_last); i < stored.size(); ++i) {
    if (stored[i].second == active_) continue;  // Never delete what is serving.
    const fs::path path = fs::path(options_.directory) / stored[i].second;
    fs::remove(path);
    fs::remove(path.string() + ".json");
  }
}

absl::StatusOr<std::string> CheckpointStore::PathOf(const std::string& name) const {
  if (!IsValidCheckpointName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("name ", QuoteClientText(name), ": not a checkpoint name"));
  }
  const fs::path path = fs::path(options_.directory) / name;
  if (!fs::exists(path))
    return absl::NotFoundError(absl::StrCat("checkpoint ", name, " not found"));
  return path.string();
}

absl::Status CheckpointStore::SetActive(const std::string& name) {
  absl::MutexLock lock(&mu_);
  const nlohmann::json record = {{"name", name},
                                 {"activated_unix_seconds", absl::ToUnixSeconds(absl::Now())}};
  const std::string path = (fs::path(options_.directory) / kActiveRecordName).string();
  absl::Status written = WriteFileAtomically(options_.directory, path, record.dump());
  active_ = name;  // Serving either way; only a restart would not know it.
  if (!written.ok()) {
    return absl::InternalError(absl::StrCat(
        "checkpoint ", name, " is active, but the record that restores it after a restart ",
        "could not be written: ", written.message()));
  }
  return absl::OkStatus();
}

void CheckpointStore::ForgetActive() {
  absl::MutexLock lock(&mu_);
  active_.clear();
}

absl::StatusOr<v1::CheckpointInfo> CheckpointStore::Info(const std::string& name) const {
  if (!IsValidCheckpointName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("name ", QuoteClientText(name), ": not a checkpoint name"));
  }
  if (!fs::exists(fs::path(options_.directory) / name)) {
    return absl::NotFoundError(absl::StrCat("checkpoint ", name, " not found"));
  }
  absl::StatusOr<v1::CheckpointInfo> info = ReadInfo(name);
  if (info.ok()) info->set_active(name == active());
  return info;
}

std::string CheckpointStore::active() const {
  absl::MutexLock lock(&mu_);
  return active_;
}

}  // namespace ovseg
