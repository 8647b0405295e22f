#include "server/service/model_swapper.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace ovseg {

ModelSwapper::ModelSwapper(CheckpointLoader loader, StandbyWarmUp warm_up, ModelHandle* model,
                           VocabularyCache* cache)
    : loader_(std::move(loader)), warm_up_(std::move(warm_up)), model_(model), cache_(cache) {}

absl::StatusOr<std::string> ModelSwapper::Activate(const std::string& path) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<StandbyModel> standby = loader_(path);
  if (!standby.ok()) return standby.status();
  if (standby->pipeline == nullptr || standby->text_encoder == nullptr) {
    return absl::InternalError(absl::StrCat(path, ": the loader returned no model"));
  }
  if (absl::Status s = warm_up_(*standby); !s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat(path, ": warm-up failed, not activated: ", s.message()));
  }
  const std::string version = standby->pipeline->Info().model_version;
  model_->Swap(standby->pipeline, standby->text_encoder);
  cache_->SetTextEncoder(standby->text_encoder);
  return version;
}

}  // namespace ovseg
